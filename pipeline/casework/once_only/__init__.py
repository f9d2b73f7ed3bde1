"""Once-only: a paper the state already holds is looked up, not asked for again
(Decree 45/2020): the warehouse and the external registers."""
