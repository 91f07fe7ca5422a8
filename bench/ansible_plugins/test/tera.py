# Tera's `is starting_with("x")` test, for Ansible (bench only).


class TestModule:
    def tests(self):
        return {"starting_with": lambda s, prefix: str(s).startswith(prefix)}
