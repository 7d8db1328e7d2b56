"""Regenerate the default corpus (corpora/wikipedia.txt) from an offline source.

The source is the shortened English Wikipedia export that ships inside the
gensim 4.4.0 wheel (CC BY-SA 3.0). Nothing else is fetched: the wheel comes
from PyPI through pip.

    pip install mwparserfromhell==0.7.2 spacy==3.8.18
    pip download --no-deps gensim==4.4.0 -d /tmp/gensim
    python corpora/make_corpus.py /tmp/gensim/gensim-4.4.0-*.whl

The output is deterministic: the same wheel gives the same file, byte for byte.
"""

from __future__ import annotations

import argparse
import bz2
import re
import sys
import unicodedata
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import mwparserfromhell
import spacy

MEMBER = (
    "gensim/test/test_data/"
    "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
)
NS = "{http://www.mediawiki.org/xml/export-0.10/}"
MIN_WORDS, MAX_WORDS = 6, 50
# Sections whose content is lists and references rather than prose.
SKIP_SECTIONS = re.compile(
    r"^(see also|references|notes|further reading|external links|bibliography|sources|"
    r"footnotes|citations|works|discography|filmography|selected works)\b",
    re.IGNORECASE,
)


def articles(wheel: Path):
    """Yield (title, wikitext) for every non-redirect main-namespace article."""
    with zipfile.ZipFile(wheel) as zf, zf.open(MEMBER) as raw, bz2.open(raw) as xml:
        title = ns = text = None
        redirect = False
        for event, elem in ET.iterparse(xml, events=("end",)):
            tag = elem.tag.removeprefix(NS)
            if tag == "title":
                title = elem.text
            elif tag == "ns":
                ns = elem.text
            elif tag == "redirect":
                redirect = True
            elif tag == "text":
                text = elem.text or ""
            elif tag == "page":
                if ns == "0" and not redirect and not text.lstrip().lower().startswith("#redirect"):
                    yield title, text
                title = ns = text = None
                redirect = False
                elem.clear()


def prose(wikitext: str) -> list[str]:
    """Plain-text paragraphs of an article, without lists, tables and reference sections."""
    code = mwparserfromhell.parse(wikitext)
    for node in code.filter_tags(recursive=True):
        if str(node.tag).lower() in {"ref", "table", "gallery", "math", "code", "pre"}:
            try:
                code.remove(node)
            except ValueError:
                pass  # already removed with its parent
    paragraphs: list[str] = []
    skipping = False
    for line in code.strip_code(normalize=True, collapse=True).splitlines():
        line = line.strip()
        heading = re.fullmatch(r"=+\s*(.*?)\s*=+", line)
        if heading:
            skipping = bool(SKIP_SECTIONS.match(heading.group(1)))
            continue
        if skipping or not line or line[0] in "*#:;|!{":
            continue
        paragraphs.append(line)
    return paragraphs


def clean(sentence: str) -> str | None:
    """A tidy single-line sentence, or None when it is not clean prose."""
    s = unicodedata.normalize("NFC", " ".join(sentence.split()))
    s = re.sub(r"\(\s*[,;]?\s*\)", "", s)  # "()" left by removed templates
    s = re.sub(r"\s+([,.;:])", r"\1", s)
    s = " ".join(s.split())
    if not s or not s[0].isupper() or s[-1] not in ".!?":
        return None
    if any(c in s for c in "[]{}|=<>_\\") or "http" in s:
        return None
    if not MIN_WORDS <= len(s.split()) <= MAX_WORDS:
        return None
    return s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("wheel", type=Path, help="path to gensim-4.4.0-*.whl")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("wikipedia.txt"))
    parser.add_argument("--max-sentences", type=int, default=6000)
    parser.add_argument("--per-article", type=int, default=120, help="at most this many sentences an article")
    args = parser.parse_args(argv)

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    seen: set[str] = set()
    out: list[str] = []
    titles = []
    for title, text in articles(args.wheel):
        kept = 0
        for doc in nlp.pipe(prose(text)):
            for sent in doc.sents:
                s = clean(sent.text)
                if s and s not in seen and kept < args.per_article:
                    seen.add(s)
                    out.append(s)
                    kept += 1
        if kept:
            titles.append(title)
        if len(out) >= args.max_sentences:
            break
    out = out[: args.max_sentences]
    args.out.write_text("\n".join(out) + "\n", encoding="utf-8")
    words = sum(len(s.split()) for s in out)
    print(f"{args.out}: {len(out)} sentences, {words} words from {len(titles)} articles", file=sys.stderr)
    args.out.with_name("wikipedia-articles.txt").write_text("\n".join(titles) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
