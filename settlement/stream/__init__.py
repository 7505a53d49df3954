"""The live path: settle order events from Kafka with exactly-once effect (see STREAMING.md).

`worker.StreamWorker` consumes `fenrun.orders`, applies events with the same `apply_batch` as the
batch path, and commits its consumed positions, ordering frontiers and outbox rows in the same
transaction as the postings. `producer.publish_file` keys a JSON-lines file onto the topic;
`outbox.relay_once` publishes ledger changes to `fenrun.commissions`.
"""
