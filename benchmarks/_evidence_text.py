"""placeholder"""

SMOKE = False
TEXT_EXPERIMENTS = []
