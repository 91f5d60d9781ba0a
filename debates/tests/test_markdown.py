"""debates.markdown: a model's Markdown as HTML a page can insert, with nothing in it that runs or fetches."""
from html.parser import HTMLParser

import pytest

from debates.markdown import LINK_REL, clean, render

REL = f'rel="{LINK_REL}"'

NORMAL = [
    ("Cars choke cities.\n\nBuses would run on time.", "<p>Cars choke cities.</p>\n<p>Buses would run on time.</p>"),
    ("First line\nsecond line", "<p>First line<br>\nsecond line</p>"),
    ("- fewer cars\n- more buses", "<ul>\n<li>fewer cars</li>\n<li>more buses</li>\n</ul>"),
    ("1. one\n2. two", "<ol>\n<li>one</li>\n<li>two</li>\n</ol>"),
    ("3. three\n4. four", '<ol start="3">\n<li>three</li>\n<li>four</li>\n</ol>'),
    ("It is **clearly** *wrong* and ~~fine~~.", "<p>It is <strong>clearly</strong> <em>wrong</em> and <s>fine</s>.</p>"),
    ("Run `make test`.", "<p>Run <code>make test</code>.</p>"),
    ("```python\nif a < b:\n    pass\n```", "<pre><code>if a &lt; b:\n    pass\n</code></pre>"),
    ("> quoted", "<blockquote>\n<p>quoted</p>\n</blockquote>"),
    ("---", "<hr>"),
    ("See [the study](https://example.org/study?a=1&b=2).",
     f'<p>See <a href="https://example.org/study?a=1&amp;b=2" {REL}>the study</a>.</p>'),
    ('[the study](http://example.org "A title")', f'<p><a href="http://example.org" title="A title" {REL}>the study</a></p>'),
    ("<https://example.org>", f'<p><a href="https://example.org" {REL}>https://example.org</a></p>'),
    ("Write to <ada@example.org>.", f'<p>Write to <a href="mailto:ada@example.org" {REL}>ada@example.org</a>.</p>'),
    ("| a | b |\n|--:|---|\n| 1 | 2 |",
     "<table>\n<thead>\n<tr>\n<th>a</th>\n<th>b</th>\n</tr>\n</thead>\n<tbody>\n<tr>\n<td>1</td>\n<td>2</td>\n</tr>\n"
     "</tbody>\n</table>"),
    # A turn sits under the page's h1 and its round's h2: its own headings start at h4.
    ("# Opening\n### Point", "<h4>Opening</h4>\n<h6>Point</h6>"),
    ("", ""),
]


@pytest.mark.parametrize("text, html", NORMAL)
def test_it_renders_normal_markdown(text, html):
    assert render(text) == html


ATTACKS = {
    "javascript link": ("[x](javascript:alert(1))", "<p>x</p>"),
    "data link": ("[x](data:text/html,<script>alert(1)</script>)", "<p>x</p>"),
    "data link, base64": ("[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)", "<p>x</p>"),
    "vbscript link": ("[x](vbscript:msgbox(1))", "<p>x</p>"),
    "file link": ("[x](file:///etc/passwd)", "<p>x</p>"),
    "mixed case": ("[x](JaVaScRiPt:alert(1))", "<p>x</p>"),
    "tab entity": ("[x](java&#x09;script:alert(1))", "<p>x</p>"),
    "colon entity": ("[x](javascript&#58;alert(1))", "<p>x</p>"),
    "newline entity": ("[x](java&#10;script:alert(1))", "<p>x</p>"),
    "leading space": ("[x](< javascript:alert(1)>)", "<p>x</p>"),
    "percent-encoded": ("[x](%6Aavascript:alert(1))", "<p>x</p>"),
    "relative link": ("[x](/debates/1/cancel/)", "<p>x</p>"),
    "scheme-relative link": ("[x](//evil.example/)", "<p>x</p>"),
    "reference link": ("[x]\n\n[x]: javascript:alert(1)", "<p>x</p>"),
    "autolink": ("<javascript:alert(1)>", "<p>javascript:alert(1)</p>"),
    "autolink, mixed case": ("<JaVaScRiPt:alert(1)>", "<p>JaVaScRiPt:alert(1)</p>"),
    "image": ("![x](http://127.0.0.1/x.png)", "<p>x</p>"),
    "image in a link": ("[![x](http://127.0.0.1/x.png)](https://example.org)",
                        f'<p><a href="https://example.org" {REL}>x</a></p>'),
    "link in an image": ("![**b** [l](javascript:alert(1))](http://127.0.0.1/x.png)", "<p><strong>b</strong> l</p>"),
    "raw img": ("<img src=x onerror=alert(1)>", "<p>&lt;img src=x onerror=alert(1)&gt;</p>"),
    "raw script": ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"),
    "raw block": ('<div onclick="alert(1)">\n\nhi\n\n</div>',
                  '<p>&lt;div onclick="alert(1)"&gt;</p>\n<p>hi</p>\n<p>&lt;/div&gt;</p>'),
    "raw link": ('<a href="javascript:alert(1)">x</a>', '<p>&lt;a href="javascript:alert(1)"&gt;x&lt;/a&gt;</p>'),
    "entities": ("&lt;script&gt;alert(1)&lt;/script&gt;", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"),
    "numeric entities": ("&#60;img src=x onerror=alert(1)&#62;", "<p>&lt;img src=x onerror=alert(1)&gt;</p>"),
    "html in code": ("`<img src=x onerror=alert(1)>`", "<p><code>&lt;img src=x onerror=alert(1)&gt;</code></p>"),
    "attribute break-out in a title": ('[x](https://example.org "a\\" onmouseover=\\"alert(1)")',
                                       f'<p><a href="https://example.org" title="a&quot; onmouseover=&quot;alert(1)" '
                                       f'{REL}>x</a></p>'),
}


@pytest.mark.parametrize("text, html", ATTACKS.values(), ids=ATTACKS.keys())
def test_an_attack_comes_out_inert(text, html):
    assert render(text) == html


class Elements(HTMLParser):
    """Each element of an HTML fragment as a browser's parser reads it: (tag, {attribute: value})."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str]]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, {name: value or "" for name, value in attrs}))


@pytest.mark.parametrize("text", [text for text, _ in ATTACKS.values()], ids=ATTACKS.keys())
def test_no_attack_leaves_an_element_or_attribute_that_could_run_or_fetch(text):
    for tag, attributes in Elements(render(text)).found:
        assert tag in {"p", "a", "strong", "code"}, tag
        assert set(attributes) <= {"href", "title", "rel"}, attributes
        assert attributes.get("href", "https:").startswith(("http:", "https:", "mailto:")), attributes


def test_the_sanitiser_alone_drops_what_markdown_would_never_make():
    """The second layer: had markdown-it let HTML through, nh3 would still keep none of it."""
    html = clean('<img src="http://127.0.0.1/x.png" onerror="alert(1)"><script>alert(2)</script>'
                 '<a href="javascript:alert(3)" onclick="alert(4)" target="_blank">a</a><a href="/relative">b</a>'
                 '<iframe src="https://example.org"></iframe><style>p{}</style><p style="color:red" class="x">c</p>'
                 '<a href="https://example.org" rel="opener">d</a>')
    assert html == (f'<a {REL}>a</a><a {REL}>b</a><p>c</p><a href="https://example.org" {REL}>d</a>')


def test_the_same_text_renders_once():
    """Every snapshot renders each completed turn: a repeated text comes from the cache."""
    text = "A **remembered** turn."
    render.cache_clear()
    render(text), render(text)
    assert render.cache_info().hits == 1
