/* See json.h. */
#include "json.h"

#include <limits.h>
#include <string.h>

bool lsl_json_parse(const char *text, json_object **root)
{
    size_t len = strlen(text);
    struct json_tokener *tok = len < INT_MAX ? json_tokener_new() : NULL; /* json-c counts in int */
    *root = NULL;
    if (!tok)
        return false;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    *root = json_tokener_parse_ex(tok, text, (int)len + 1); /* the NUL tells it the input ends there */
    bool ok = json_tokener_get_error(tok) == json_tokener_success;
    json_tokener_free(tok);
    if (!ok) {
        json_object_put(*root);
        *root = NULL;
    }
    return ok;
}

const char *lsl_json_string(const json_object *o, const char *key)
{
    json_object *v = NULL;
    json_object_object_get_ex(o, key, &v);
    return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}
