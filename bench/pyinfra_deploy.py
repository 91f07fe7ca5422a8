# pyinfra 3 version of playbooks/site.yml (nginx -> uWSGI -> Django), used only by
# bench/bench.py to compare tools on the same hosts and the same job. Same steps, same order,
# same variables. Templates are rendered locally with Jinja2 (plus the two Tera-only helpers the
# templates use) and uploaded like plumb's `template`; the two `uri` checks become `curl` calls.
import io
import os

import jinja2
from pyinfra.operations import apt, files, server, systemd
from pyinfra.operations.util import any_changed

REPO = os.environ["PLUMB_BENCH_REPO"]
VARS = {
    "app_dir": "/srv/myproject",
    "app_socket": "/run/myproject/myproject.sock",
    "server_name": "_",
    "static_root": "/srv/myproject/staticfiles",
    "uwsgi_processes": 2,
}

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(os.path.join(REPO, "templates")),
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)
_env.filters["dirname"] = os.path.dirname
# Ansible's regex_replace, which plain Jinja2 lacks (the templates are Ansible's).
_env.filters["regex_replace"] = lambda s, pat, rep="": __import__("re").sub(pat, rep, str(s))


def rendered(name):
    return io.StringIO(_env.get_template(name).render(**VARS))


apt.packages(
    name="Install nginx, uWSGI and Django",
    packages=["nginx", "uwsgi", "uwsgi-plugin-python3", "python3-django"],
    update=True,
    cache_time=3600,
)
files.directory(name="Application directory", path=VARS["app_dir"], mode="755")
project = files.sync(
    name="Django project",
    src=os.path.join(REPO, "playbooks/files/myproject/"),
    dest=VARS["app_dir"],
)
files.sync(
    name="Static files, served by nginx from STATIC_ROOT",
    src=os.path.join(REPO, "playbooks/files/myproject/static/"),
    dest=VARS["static_root"],
)
default_site = files.file(
    name="Disable nginx's default site", path="/etc/nginx/sites-enabled/default", present=False
)
nginx_conf = files.put(
    name="nginx site",
    src=rendered("nginx-myproject.conf.j2"),
    dest="/etc/nginx/conf.d/myproject.conf",
    mode="644",
)
uwsgi_ini = files.put(
    name="uWSGI app config",
    src=rendered("uwsgi-myproject.ini.j2"),
    dest="/etc/uwsgi/myproject.ini",
    mode="644",
)
unit = files.put(
    name="uWSGI systemd unit",
    src=rendered("uwsgi-myproject.service.j2"),
    dest="/etc/systemd/system/uwsgi-myproject.service",
    mode="644",
)
systemd.daemon_reload(name="Reload systemd after a unit change", _if=unit.did_change)
systemd.service(
    name="uWSGI running and enabled", service="uwsgi-myproject", running=True, enabled=True
)
systemd.service(name="nginx running and enabled", service="nginx", running=True, enabled=True)
# Handlers (flushed here, as in site.yml).
systemd.service(
    name="reload nginx",
    service="nginx",
    running=True,
    reloaded=True,
    _if=any_changed(default_site, nginx_conf),
)
systemd.service(
    name="restart uwsgi",
    service="uwsgi-myproject",
    running=True,
    restarted=True,
    _if=any_changed(project, uwsgi_ini, unit),
)
server.shell(
    name="The site answers through nginx and uWSGI",
    commands=[
        "for i in $(seq 11); do curl -fsS http://127.0.0.1/ | grep -q 'Hello from myproject'"
        " && exit 0; sleep 1; done; exit 1"
    ],
)
server.shell(
    name="nginx serves the static file",
    commands=["curl -fsS -o /dev/null http://127.0.0.1/static/myproject/style.css"],
)
