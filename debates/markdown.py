"""Model text as safe HTML: Markdown rendered by markdown-it-py, then cleaned by nh3 (ammonia) whatever it made.

Two layers, so that a slip in one is caught by the other. markdown-it never passes raw HTML through (it shows as
the text it is), and our core rule below unwraps every link whose URL is not http, https or mailto (its text
stays) and puts an image's description where the image was, so no page ever fetches a model's image. nh3 then
keeps only the tags and attributes listed here and adds `rel` to every link.
"""
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

SCHEMES = {"http", "https", "mailto"}
TAGS = {"p", "br", "hr", "strong", "em", "s", "code", "pre", "blockquote", "ul", "ol", "li", "a",
        "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td"}
ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
LINK_REL = "nofollow noopener noreferrer"
# A turn sits under the page's h1 (the motion) and h2 (its round): its own headings start below them.
HEADING_SHIFT = 3


def _allowed(href: str) -> bool:
    # An allow-list on the URL as it will be written: a browser reads the scheme as what comes before the first
    # ":", so "JaVaScRiPt:", "java%09script:" or a leading control character can never pass as one of these.
    # Relative links (and "//host") have no scheme and are dropped too: a model has no page of ours to link to.
    scheme, colon, _ = href.partition(":")
    return bool(colon) and scheme.lower() in SCHEMES


def _without_images(tokens: list[Token]) -> list[Token]:
    """Each image replaced by its description (which may itself hold an image)."""
    out: list[Token] = []
    for token in tokens:
        out.extend(_without_images(token.children or []) if token.type == "image" else [token])
    return out


def _without_bad_links(tokens: list[Token]) -> list[Token]:
    out, dropping = [], False  # CommonMark links never nest, so a dropped link ends at the next link_close
    for token in tokens:
        if token.type == "link_open" and not _allowed(str(token.attrGet("href") or "")):
            dropping = True
        elif token.type == "link_close" and dropping:
            dropping = False
        else:
            out.append(token)
    return out


def _safe_tokens(state: StateCore) -> None:
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1]) + HEADING_SHIFT)}"
        if token.type == "inline" and token.children:
            token.children = _without_bad_links(_without_images(token.children))


# breaks: a newline shows as one, as it did while the turn streamed as plain text.
_parser = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable(["table", "strikethrough"])
_parser.validateLink = lambda url: True  # every link becomes a token, so that _safe_tokens can keep its text
_parser.core.ruler.push("safe_tokens", _safe_tokens)


@lru_cache(maxsize=2048)  # snapshots render every completed turn again, for each page that connects
def render(text: str) -> str:
    """`text` (Markdown from a model) as HTML that is safe to put into a page as it is."""
    return clean(_parser.render(text))


def clean(html: str) -> str:
    """Only the tags and attributes Markdown needs, links only to SCHEMES, each with LINK_REL."""
    return nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=SCHEMES, link_rel=LINK_REL,
                     attribute_filter=_only_allowed_hrefs,
                     clean_content_tags={"script", "style"}).strip()  # strip: no stray text node around it


def _only_allowed_hrefs(tag: str, attribute: str, value: str) -> str | None:
    # nh3 keeps relative URLs whatever url_schemes says; this drops them too, as the Markdown layer does.
    return None if attribute == "href" and not _allowed(value) else value
