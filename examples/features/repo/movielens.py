"""The MovieLens feature repository: user and movie features over trailing windows, computed once
by DuckDB from the ``ratings`` and ``movies`` datasets and used by two models.

Each feature row is stamped with the time of the ratings it summarises (one row per user, or
movie, per second that saw ratings), so a point-in-time join at a rating's time minus one second
sees only the ratings made before it: the label never leaks into its own features.
"""

import pandas as pd  # noqa: F401 - on-demand views run with pd and np in scope; this is for readers and linters

from slipway.features import Entity, FeatureService, FeatureView, Source, on_demand_view

user = Entity("user", join_keys=["user_id"], description="A MovieLens rater")
movie = Entity("movie", join_keys=["movie_id"], description="A MovieLens title")

RATINGS = Source.dataset("ratings")  # the latest version of the dataset, read where it is stored
MOVIES = Source.dataset("movies")

# Per user and second: how many ratings, their sum, how many were >= 4, and per genre how many;
# then trailing sums over 90 days (RANGE, so every second inside the window counts) and all time.
USER_SQL = """
SELECT user_id, event_timestamp,
       sum(n) OVER w90 AS rating_count_90d,
       sum(total) OVER w90 / sum(n) OVER w90 AS mean_rating_90d,
       sum(high) OVER w90 / sum(n) OVER w90 AS high_share_90d,
       sum(drama) OVER w90 / sum(n) OVER w90 AS drama_share_90d,
       sum(comedy) OVER w90 / sum(n) OVER w90 AS comedy_share_90d,
       sum(action) OVER w90 / sum(n) OVER w90 AS action_share_90d,
       CAST(sum(n) OVER wall AS BIGINT) AS rating_count_all,
       sum(total) OVER wall / sum(n) OVER wall AS mean_rating_all
FROM (
    SELECT r.userId AS user_id, to_timestamp(r."timestamp") AS event_timestamp, count(*) AS n,
           sum(r.rating) AS total, sum(CAST(r.rating >= 4 AS INT)) AS high,
           sum(CAST(m.genres LIKE '%Drama%' AS INT)) AS drama, sum(CAST(m.genres LIKE '%Comedy%' AS INT)) AS comedy,
           sum(CAST(m.genres LIKE '%Action%' AS INT)) AS action
    FROM ratings r JOIN movies m ON r.movieId = m.movieId
    GROUP BY ALL
)
WINDOW w90 AS (PARTITION BY user_id ORDER BY event_timestamp RANGE BETWEEN INTERVAL 90 DAYS PRECEDING AND CURRENT ROW),
       wall AS (PARTITION BY user_id ORDER BY event_timestamp ROWS UNBOUNDED PRECEDING)
"""

MOVIE_SQL = """
SELECT movie_id, event_timestamp,
       CAST(sum(n) OVER wall AS BIGINT) AS movie_rating_count,
       sum(total) OVER wall / sum(n) OVER wall AS movie_mean_rating,
       sum(high) OVER wall / sum(n) OVER wall AS movie_high_share
FROM (
    SELECT movieId AS movie_id, to_timestamp("timestamp") AS event_timestamp, count(*) AS n, sum(rating) AS total,
           sum(CAST(rating >= 4 AS INT)) AS high
    FROM ratings GROUP BY ALL
)
WINDOW wall AS (PARTITION BY movie_id ORDER BY event_timestamp ROWS UNBOUNDED PRECEDING)
"""

user_stats = FeatureView(
    "user_stats", entities=[user], source=Source.sql(USER_SQL, ratings=RATINGS, movies=MOVIES), ttl="365d",
    features={"rating_count_90d": "int64", "mean_rating_90d": "float64", "high_share_90d": "float64",
              "drama_share_90d": "float64", "comedy_share_90d": "float64", "action_share_90d": "float64",
              "rating_count_all": "int64", "mean_rating_all": "float64"},
    owner="recs-team", tags={"domain": "users"}, schedule="0 3 * * *",
    description="A user's taste over the last 90 days and all time")

movie_stats = FeatureView(
    "movie_stats", entities=[movie], source=Source.sql(MOVIE_SQL, ratings=RATINGS), ttl="730d",
    features={"movie_rating_count": "int64", "movie_mean_rating": "float64", "movie_high_share": "float64"},
    owner="recs-team", tags={"domain": "movies"}, schedule="0 3 * * *",
    description="How a movie has been rated so far")


@on_demand_view(sources=[user_stats, movie_stats], features={"taste_gap": "float64", "generosity": "float64"})
def affinity(df):
    """How far the movie's average is from what this user usually gives, and how generous the
    user is compared with the movie's raters (the same code at training and at request time)."""
    return pd.DataFrame({"taste_gap": df["movie_mean_rating"] - df["mean_rating_all"],
                         "generosity": df["high_share_90d"] - df["movie_high_share"]})


likes = FeatureService("likes", features=[user_stats, movie_stats, "affinity"],
                       description="Will the user rate this movie 4 or more?")
rating = FeatureService("rating", features=["user_stats", "movie_stats", "affinity:taste_gap"],
                        description="The rating the user will give")
