"""The bank's shared features, owned by the platform team and read by the fraud and credit teams.

Both come from one raw dataset in the platform project, ``card-transactions`` (the card network's
feed: the simulator's output; ``tx_time`` in epoch seconds), computed by DuckDB, and follow the handbook's feature transformations:

- ``customer_spending``: per customer, at each of their transactions, how many transactions and
  what mean amount over the last 1, 7 and 30 days (the current one included, as in the handbook);
- ``terminal_risk``: per terminal and day, how many transactions and what share of them were fraud
  over 1, 7 and 30 days ending a week earlier: fraud labels arrive late (the handbook's delay of
  7 days), so a model may only know what was labelled by then.
"""

from slipway.features import Entity, FeatureService, FeatureView, Source

customer = Entity("customer", join_keys=["customer_id"], description="A card holder (simulated)")
terminal = Entity("terminal", join_keys=["terminal_id"], description="A payment terminal (simulated)")

TRANSACTIONS = Source.dataset("card-transactions")

CUSTOMER_SQL = """
SELECT customer_id, to_timestamp(tx_time) AS event_timestamp,
       CAST(count(*) OVER w1 AS BIGINT) AS nb_tx_1d, avg(tx_amount) OVER w1 AS avg_amount_1d,
       CAST(count(*) OVER w7 AS BIGINT) AS nb_tx_7d, avg(tx_amount) OVER w7 AS avg_amount_7d,
       CAST(count(*) OVER w30 AS BIGINT) AS nb_tx_30d, avg(tx_amount) OVER w30 AS avg_amount_30d
FROM transactions
WINDOW w1 AS (PARTITION BY customer_id ORDER BY to_timestamp(tx_time) RANGE BETWEEN INTERVAL 1 DAY PRECEDING AND CURRENT ROW),
       w7 AS (PARTITION BY customer_id ORDER BY to_timestamp(tx_time) RANGE BETWEEN INTERVAL 7 DAYS PRECEDING AND CURRENT ROW),
       w30 AS (PARTITION BY customer_id ORDER BY to_timestamp(tx_time) RANGE BETWEEN INTERVAL 30 DAYS PRECEDING AND CURRENT ROW)
"""

# One row per terminal and day it was used, stamped at midnight; each window ends 7 days before.
TERMINAL_SQL = """
SELECT terminal_id, event_timestamp,
       CAST(coalesce(sum(n) OVER w1, 0) AS BIGINT) AS terminal_nb_tx_1d,
       coalesce(sum(frauds) OVER w1 / nullif(sum(n) OVER w1, 0), 0) AS terminal_risk_1d,
       CAST(coalesce(sum(n) OVER w7, 0) AS BIGINT) AS terminal_nb_tx_7d,
       coalesce(sum(frauds) OVER w7 / nullif(sum(n) OVER w7, 0), 0) AS terminal_risk_7d,
       CAST(coalesce(sum(n) OVER w30, 0) AS BIGINT) AS terminal_nb_tx_30d,
       coalesce(sum(frauds) OVER w30 / nullif(sum(n) OVER w30, 0), 0) AS terminal_risk_30d
FROM (
    SELECT terminal_id, to_timestamp(tx_time - tx_time % 86400) AS event_timestamp, count(*) AS n,
           CAST(sum(tx_fraud) AS DOUBLE) AS frauds
    FROM transactions GROUP BY ALL
)
WINDOW w1 AS (PARTITION BY terminal_id ORDER BY event_timestamp RANGE BETWEEN INTERVAL 7 DAYS PRECEDING AND INTERVAL 7 DAYS PRECEDING),
       w7 AS (PARTITION BY terminal_id ORDER BY event_timestamp RANGE BETWEEN INTERVAL 13 DAYS PRECEDING AND INTERVAL 7 DAYS PRECEDING),
       w30 AS (PARTITION BY terminal_id ORDER BY event_timestamp RANGE BETWEEN INTERVAL 36 DAYS PRECEDING AND INTERVAL 7 DAYS PRECEDING)
"""

customer_spending = FeatureView(
    "customer_spending", entities=[customer], source=Source.sql(CUSTOMER_SQL, transactions=TRANSACTIONS), ttl="90d",
    features={"nb_tx_1d": "int64", "avg_amount_1d": "float64", "nb_tx_7d": "int64", "avg_amount_7d": "float64",
              "nb_tx_30d": "int64", "avg_amount_30d": "float64"},
    owner="platform-team", tags={"domain": "payments", "pii": "no"},
    description="A customer's spending over the last 1, 7 and 30 days")

terminal_risk = FeatureView(
    "terminal_risk", entities=[terminal], source=Source.sql(TERMINAL_SQL, transactions=TRANSACTIONS), ttl="90d",
    features={"terminal_nb_tx_1d": "int64", "terminal_risk_1d": "float64", "terminal_nb_tx_7d": "int64",
              "terminal_risk_7d": "float64", "terminal_nb_tx_30d": "int64", "terminal_risk_30d": "float64"},
    owner="platform-team", tags={"domain": "payments", "pii": "no"},
    description="A terminal's volume and fraud share over 1, 7 and 30 days, a week late (labels arrive late)")

fraud = FeatureService("fraud", features=[customer_spending, terminal_risk],
                       description="The fraud team's model: is this card transaction fraudulent?")
credit = FeatureService("credit", features=["customer_spending"],
                        description="The credit team's model: will this applicant repay?")
