import pathlib
import sys

# Test modules in sub-folders import the shared tools as ``from helpers import ...``.
sys.path.insert(0, str(pathlib.Path(__file__).parent))
