/* report_json.h — a small JSON reader for `onyx report`: it reads back the
 * figures `onyx bench --json` writes for each sweep (the report runs the bench
 * command itself rather than a second copy of its timing code) and the
 * previous REPORT.json that --compare overlays.
 *
 * The whole document becomes a tree of json_value nodes (RFC 8259: objects,
 * arrays, strings with escapes, numbers, true/false/null; nesting at most 64
 * deep). Input is treated as untrusted: every read is bounds-checked and a
 * malformed document gives a one-line message with the byte offset. Lookups
 * never fail loudly: a missing key or a value of another type gives NULL, or
 * NAN for json_number, so callers can say "not in the old report" rather
 * than crash. */
#ifndef ONYX_TOOLS_REPORT_JSON_H
#define ONYX_TOOLS_REPORT_JSON_H

#include <stdbool.h>
#include <stddef.h>

typedef enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type;

typedef struct json_value {
  json_type type;
  bool boolean;               /* JSON_BOOL */
  double number;              /* JSON_NUMBER */
  char *string;               /* JSON_STRING: UTF-8, NUL-terminated (owned) */
  int n;                      /* JSON_ARRAY / JSON_OBJECT: element count */
  struct json_value *items;   /* their values (owned) */
  char **keys;                /* JSON_OBJECT: their keys (owned) */
} json_value;

/* Parses text[0..len) into a new tree (*out; free with json_free). On
 * failure returns false, leaves *out NULL and writes a message into err. */
bool json_parse(const char *text, size_t len, json_value **out, char *err, size_t errlen);
/* Reads the file at path and parses it; messages name the file. */
bool json_parse_file(const char *path, json_value **out, char *err, size_t errlen);
/* Frees a tree from json_parse (NULL accepted). */
void json_free(json_value *v);

/* The value at a dotted path below v: object keys and array indices, e.g.
 * "points.0.latency_ms.p50". NULL when any step is missing (v may be NULL). */
const json_value *json_path(const json_value *v, const char *path);
/* v's number when v is a JSON number, else NAN (v may be NULL). */
double json_number(const json_value *v);
/* v's string when v is a JSON string, else NULL (v may be NULL). */
const char *json_string(const json_value *v);

#endif
