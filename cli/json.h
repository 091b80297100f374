/* The registry and the catalog read JSON the same strict way (json-c). */
#ifndef LSL_CLI_JSON_H
#define LSL_CLI_JSON_H

#include <json-c/json.h>
#include <stdbool.h>

/* Strict mode, or json-c would take comments, trailing commas and text after the value (it still takes
 * single quotes and NaN: every value read is type-checked). False if the text is not JSON; a JSON null is
 * true with *root NULL, as json-c represents null. */
bool lsl_json_parse(const char *text, json_object **root);
/* A string member's text, NULL if absent or not a string (json_object_get_string would print anything). */
const char *lsl_json_string(const json_object *o, const char *key);

#endif
