"""Using gdsolve from Python: minimize, watch each step, read the result."""

from gdsolve import GdsolveError, minimize

steps = []
r = minimize("(1-x)**2 + 100*(y-x^2)**2", lr=0.001, max_iter=20000, x0={"x": -1, "y": 1}, callback=steps.append)
print(r.x, r.fun, r.nit, r.success, r.message)
print("first step:", steps[0].x, steps[0].f, steps[0].grad_norm)

try:
    minimize("__import__('os').system('echo pwned')")
except GdsolveError as exc:  # refused, never executed
    print("refused:", exc)
