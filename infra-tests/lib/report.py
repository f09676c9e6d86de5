"""How every infra-tests checker ends: one indented line per problem, a summary line, and the
exit status `infra-tests/run` counts (1 when anything was found)."""


def finish(name, problems, detail=""):
    for p in problems:
        print(f"  {p}")
    print(f"{name}: {detail}" + ("ok" if not problems else f"{len(problems)} problem(s)"))
    return 1 if problems else 0
