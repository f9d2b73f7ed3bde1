"""Vietnamese facts: time zone, IDs, names, dates, text folding, administrative units, MRZ,
the chip card's QR."""
