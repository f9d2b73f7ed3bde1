"""Pipeline stages (intake → rasterize → ocr → classify → extract → assemble → certify → file)."""
