import socket

from django.http import HttpResponse
from django.templatetags.static import static
from django.utils.html import escape
from django.views.decorators.http import require_safe

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>myproject</title>
<link rel="stylesheet" href="{css}">
</head>
<body>
<h1>Hello from myproject</h1>
<p>Served by Django through uWSGI behind nginx on <code>{host}</code>.</p>
</body>
</html>
"""


@require_safe
def index(request):
    # static() gives STATIC_URL + path: /static/myproject/style.css
    html = PAGE.format(css=static("myproject/style.css"), host=escape(socket.gethostname()))
    return HttpResponse(html, content_type="text/html; charset=utf-8")
