"""Layer 3: steps, pipelines, caching, gates, runners, schedules and triggers."""
