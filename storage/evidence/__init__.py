"""Evidence: write-once objects in the store (register, audit log, cancellations, warehouse).
Data only; rendering lives in the shell (ecopy.reports)."""
