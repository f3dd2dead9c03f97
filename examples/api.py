"""Using gdsolve from Python: minimize, watch each step, read the result."""

from gdsolve import GdsolveError, minimize

# The tutorial's rule on Rosenbrock's valley: it stalls short of (1, 1), and the message says why.
steps = []
r = minimize("(1-x)**2 + 100*(y-x^2)**2", lr=0.001, max_iter=20000, x0={"x": -1, "y": 1}, callback=steps.append)
print(r.status.value, r.x, r.fun, r.nit)
print(r.message)
print("first step:", steps[0].x, steps[0].f, steps[0].grad_norm)

# L-BFGS converges there in a few dozen iterations.
r = minimize("(1-x)**2 + 100*(y-x^2)**2", method="lbfgs", x0={"x": -1, "y": 1})
print(r.status.value, r.x, r.nit, r.success)

try:
    minimize("__import__('os').system('echo pwned')")
except GdsolveError as exc:  # refused, never executed
    print("refused:", exc)
