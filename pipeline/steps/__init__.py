"""The chain's steps, one module each: intake → rasterize → quality → preprocess → ocr
→ classify → extract → assemble → pdfa → certify (pipeline/flow.py runs them)."""
