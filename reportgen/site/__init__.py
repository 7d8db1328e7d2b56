"""Presentation: the database's tables -> view models (views/, one module per page type, registered in
views.PAGES) -> Jinja templates -> the site, written atomically (output). Charts are built in charts/ only. This
package imports levels 1-3 only (names, config, corpus records, the store): rendering never imports torch."""
