/*
 * status_page_assets.h - the status page's inline style and script.
 */
#ifndef STATUS_PAGE_ASSETS_H
#define STATUS_PAGE_ASSETS_H

/* The <style> element, for the page's <head>. */
extern const char status_page_style[];
/*
 * The <script> element: fetches /debug/history every second and redraws
 * the sparklines of the cards status_page.c writes; reloads the page when
 * the set of service ports changes.
 */
extern const char status_page_script[];

#endif
