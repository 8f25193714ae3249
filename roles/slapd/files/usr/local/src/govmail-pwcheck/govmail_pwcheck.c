/*
 * govmail_pwcheck.c: the R6.2 password rule inside slapd (ppolicy's pwdCheckModule, OpenLDAP 2.5).
 *
 * R6.2: at least 8 characters with an upper-case letter, a lower-case letter, a digit and a special
 * character, all four; govmail adds: neither the address's local part nor a word of the person's
 * name (3 letters or more), compared unaccented and case-insensitively. The same rule as
 * module_utils/govmail/model/passwords.py (quality_problems); tests/unit/test_pwcheck_module.py
 * checks that both agree, tests/integration/test_password_rules.py that slapd enforces it on every
 * way a user can set a password (docs/passwords.md).
 *
 * ppolicy calls check_password(password, &message, entry, arg) for every non-manager change of
 * userPassword (modify, add, password modify extended operation) when the policy has
 * pwdCheckQuality > 0 and pwdCheckModule names this file. Non-zero refuses the change with
 * constraintViolation and the message.
 *
 * The module reads the entry's mail, uid and cn through slapd's own exported functions
 * (slap_str2ad, attr_find); only the leading members of Entry and Attribute, identical in
 * servers/slapd/slap.h of 2.5 and 2.6, are declared here, so no OpenLDAP source tree is needed to
 * build it: `gcc -shared -fPIC -O2 -o govmail_pwcheck.so govmail_pwcheck.c`. Anything it cannot
 * read refuses the password (fail closed).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct berval {
    unsigned long bv_len; /* ber_len_t */
    char *bv_val;
};
typedef struct AttributeDescription AttributeDescription;
typedef struct GmAttribute {        /* struct Attribute, leading members */
    AttributeDescription *a_desc;
    struct berval *a_vals;          /* NULL-terminated (bv_val == NULL) */
} GmAttribute;
typedef struct GmEntry {            /* struct Entry, leading members */
    unsigned long e_id;             /* ID */
    struct berval e_name;
    struct berval e_nname;
    GmAttribute *e_attrs;
} GmEntry;

/* Exported by slapd; weak so that the pure rule below can be loaded (and tested) outside slapd. */
extern int slap_str2ad(const char *, AttributeDescription **, const char **) __attribute__((weak));
extern GmAttribute *attr_find(GmAttribute *, AttributeDescription *) __attribute__((weak));

enum {
    GM_SHORT = 1,
    GM_UPPER = 2,
    GM_LOWER = 4,
    GM_DIGIT = 8,
    GM_SPECIAL = 16,
    GM_ADDRESS = 32,
    GM_NAME = 64,
    GM_INVALID = 128, /* not UTF-8, or the entry could not be read */
};

/* Letters of the Vietnamese alphabet (and the breve vowels of Ê Đê, Jrai, Raglai) outside ASCII:
 * code point, unaccented small letter, 1 when upper case. Generated from names._is_vietnamese_letter;
 * test_pwcheck_module.py checks it still matches. */
static const struct { unsigned cp; char base; char upper; } LETTERS[] = {
    {0x00C0, 'a', 1}, {0x00C1, 'a', 1}, {0x00C2, 'a', 1}, {0x00C3, 'a', 1}, {0x00C8, 'e', 1}, {0x00C9, 'e', 1},
    {0x00CA, 'e', 1}, {0x00CC, 'i', 1}, {0x00CD, 'i', 1}, {0x00CE, 'i', 1}, {0x00D1, 'n', 1}, {0x00D2, 'o', 1},
    {0x00D3, 'o', 1}, {0x00D4, 'o', 1}, {0x00D5, 'o', 1}, {0x00D9, 'u', 1}, {0x00DA, 'u', 1}, {0x00DB, 'u', 1},
    {0x00DD, 'y', 1}, {0x00E0, 'a', 0}, {0x00E1, 'a', 0}, {0x00E2, 'a', 0}, {0x00E3, 'a', 0}, {0x00E8, 'e', 0},
    {0x00E9, 'e', 0}, {0x00EA, 'e', 0}, {0x00EC, 'i', 0}, {0x00ED, 'i', 0}, {0x00EE, 'i', 0}, {0x00F1, 'n', 0},
    {0x00F2, 'o', 0}, {0x00F3, 'o', 0}, {0x00F4, 'o', 0}, {0x00F5, 'o', 0}, {0x00F9, 'u', 0}, {0x00FA, 'u', 0},
    {0x00FB, 'u', 0}, {0x00FD, 'y', 0}, {0x0102, 'a', 1}, {0x0103, 'a', 0}, {0x0106, 'c', 1}, {0x0107, 'c', 0},
    {0x0108, 'c', 1}, {0x0109, 'c', 0}, {0x0110, 'd', 1}, {0x0111, 'd', 0}, {0x0114, 'e', 1}, {0x0115, 'e', 0},
    {0x011C, 'g', 1}, {0x011D, 'g', 0}, {0x011E, 'g', 1}, {0x011F, 'g', 0}, {0x0124, 'h', 1}, {0x0125, 'h', 0},
    {0x0128, 'i', 1}, {0x0129, 'i', 0}, {0x012C, 'i', 1}, {0x012D, 'i', 0}, {0x0134, 'j', 1}, {0x0135, 'j', 0},
    {0x0139, 'l', 1}, {0x013A, 'l', 0}, {0x0143, 'n', 1}, {0x0144, 'n', 0}, {0x014E, 'o', 1}, {0x014F, 'o', 0},
    {0x0154, 'r', 1}, {0x0155, 'r', 0}, {0x015A, 's', 1}, {0x015B, 's', 0}, {0x015C, 's', 1}, {0x015D, 's', 0},
    {0x0168, 'u', 1}, {0x0169, 'u', 0}, {0x016C, 'u', 1}, {0x016D, 'u', 0}, {0x0174, 'w', 1}, {0x0175, 'w', 0},
    {0x0176, 'y', 1}, {0x0177, 'y', 0}, {0x0179, 'z', 1}, {0x017A, 'z', 0}, {0x01A0, 'o', 1}, {0x01A1, 'o', 0},
    {0x01AF, 'u', 1}, {0x01B0, 'u', 0}, {0x01F4, 'g', 1}, {0x01F5, 'g', 0}, {0x01F8, 'n', 1}, {0x01F9, 'n', 0},
    {0x1E04, 'b', 1}, {0x1E05, 'b', 0}, {0x1E0C, 'd', 1}, {0x1E0D, 'd', 0}, {0x1E24, 'h', 1}, {0x1E25, 'h', 0},
    {0x1E30, 'k', 1}, {0x1E31, 'k', 0}, {0x1E32, 'k', 1}, {0x1E33, 'k', 0}, {0x1E36, 'l', 1}, {0x1E37, 'l', 0},
    {0x1E3E, 'm', 1}, {0x1E3F, 'm', 0}, {0x1E42, 'm', 1}, {0x1E43, 'm', 0}, {0x1E46, 'n', 1}, {0x1E47, 'n', 0},
    {0x1E4C, 'o', 1}, {0x1E4D, 'o', 0}, {0x1E54, 'p', 1}, {0x1E55, 'p', 0}, {0x1E5A, 'r', 1}, {0x1E5B, 'r', 0},
    {0x1E62, 's', 1}, {0x1E63, 's', 0}, {0x1E6C, 't', 1}, {0x1E6D, 't', 0}, {0x1E78, 'u', 1}, {0x1E79, 'u', 0},
    {0x1E7C, 'v', 1}, {0x1E7D, 'v', 0}, {0x1E7E, 'v', 1}, {0x1E7F, 'v', 0}, {0x1E80, 'w', 1}, {0x1E81, 'w', 0},
    {0x1E82, 'w', 1}, {0x1E83, 'w', 0}, {0x1E88, 'w', 1}, {0x1E89, 'w', 0}, {0x1E90, 'z', 1}, {0x1E91, 'z', 0},
    {0x1E92, 'z', 1}, {0x1E93, 'z', 0}, {0x1EA0, 'a', 1}, {0x1EA1, 'a', 0}, {0x1EA2, 'a', 1}, {0x1EA3, 'a', 0},
    {0x1EA4, 'a', 1}, {0x1EA5, 'a', 0}, {0x1EA6, 'a', 1}, {0x1EA7, 'a', 0}, {0x1EA8, 'a', 1}, {0x1EA9, 'a', 0},
    {0x1EAA, 'a', 1}, {0x1EAB, 'a', 0}, {0x1EAC, 'a', 1}, {0x1EAD, 'a', 0}, {0x1EAE, 'a', 1}, {0x1EAF, 'a', 0},
    {0x1EB0, 'a', 1}, {0x1EB1, 'a', 0}, {0x1EB2, 'a', 1}, {0x1EB3, 'a', 0}, {0x1EB4, 'a', 1}, {0x1EB5, 'a', 0},
    {0x1EB6, 'a', 1}, {0x1EB7, 'a', 0}, {0x1EB8, 'e', 1}, {0x1EB9, 'e', 0}, {0x1EBA, 'e', 1}, {0x1EBB, 'e', 0},
    {0x1EBC, 'e', 1}, {0x1EBD, 'e', 0}, {0x1EBE, 'e', 1}, {0x1EBF, 'e', 0}, {0x1EC0, 'e', 1}, {0x1EC1, 'e', 0},
    {0x1EC2, 'e', 1}, {0x1EC3, 'e', 0}, {0x1EC4, 'e', 1}, {0x1EC5, 'e', 0}, {0x1EC6, 'e', 1}, {0x1EC7, 'e', 0},
    {0x1EC8, 'i', 1}, {0x1EC9, 'i', 0}, {0x1ECA, 'i', 1}, {0x1ECB, 'i', 0}, {0x1ECC, 'o', 1}, {0x1ECD, 'o', 0},
    {0x1ECE, 'o', 1}, {0x1ECF, 'o', 0}, {0x1ED0, 'o', 1}, {0x1ED1, 'o', 0}, {0x1ED2, 'o', 1}, {0x1ED3, 'o', 0},
    {0x1ED4, 'o', 1}, {0x1ED5, 'o', 0}, {0x1ED6, 'o', 1}, {0x1ED7, 'o', 0}, {0x1ED8, 'o', 1}, {0x1ED9, 'o', 0},
    {0x1EDA, 'o', 1}, {0x1EDB, 'o', 0}, {0x1EDC, 'o', 1}, {0x1EDD, 'o', 0}, {0x1EDE, 'o', 1}, {0x1EDF, 'o', 0},
    {0x1EE0, 'o', 1}, {0x1EE1, 'o', 0}, {0x1EE2, 'o', 1}, {0x1EE3, 'o', 0}, {0x1EE4, 'u', 1}, {0x1EE5, 'u', 0},
    {0x1EE6, 'u', 1}, {0x1EE7, 'u', 0}, {0x1EE8, 'u', 1}, {0x1EE9, 'u', 0}, {0x1EEA, 'u', 1}, {0x1EEB, 'u', 0},
    {0x1EEC, 'u', 1}, {0x1EED, 'u', 0}, {0x1EEE, 'u', 1}, {0x1EEF, 'u', 0}, {0x1EF0, 'u', 1}, {0x1EF1, 'u', 0},
    {0x1EF2, 'y', 1}, {0x1EF3, 'y', 0}, {0x1EF4, 'y', 1}, {0x1EF5, 'y', 0}, {0x1EF6, 'y', 1}, {0x1EF7, 'y', 0},
    {0x1EF8, 'y', 1}, {0x1EF9, 'y', 0},
};

static int letter(unsigned cp, char *base, int *upper)
{
    size_t lo = 0, hi = sizeof(LETTERS) / sizeof(LETTERS[0]);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (LETTERS[mid].cp == cp) {
            *base = LETTERS[mid].base;
            *upper = LETTERS[mid].upper;
            return 1;
        }
        if (LETTERS[mid].cp < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* Next code point of a NUL-terminated UTF-8 string; -1 when malformed. */
static long next_cp(const unsigned char **p)
{
    const unsigned char *s = *p;
    unsigned cp;
    int extra;
    if (s[0] < 0x80) {
        *p = s + 1;
        return s[0];
    }
    if ((s[0] & 0xE0) == 0xC0) {
        cp = s[0] & 0x1F;
        extra = 1;
    } else if ((s[0] & 0xF0) == 0xE0) {
        cp = s[0] & 0x0F;
        extra = 2;
    } else if ((s[0] & 0xF8) == 0xF0) {
        cp = s[0] & 0x07;
        extra = 3;
    } else {
        return -1;
    }
    for (int i = 1; i <= extra; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return -1;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    *p = s + extra + 1;
    return cp;
}

/* Unaccented small letters and digits of text, everything else dropped (names.vn_slug for
 * Vietnamese text). out has room for strlen(text) + 1. Returns 0 on malformed UTF-8. */
static int fold(const char *text, char *out)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t n = 0;
    while (*p) {
        long cp = next_cp(&p);
        char base;
        int upper;
        if (cp < 0)
            return 0;
        if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9'))
            out[n++] = (char)cp;
        else if (cp >= 'A' && cp <= 'Z')
            out[n++] = (char)(cp - 'A' + 'a');
        else if (letter((unsigned)cp, &base, &upper))
            out[n++] = base;
    }
    out[n] = '\0';
    return 1;
}

static int is_special(long cp)
{
    return cp > 0x20 && cp < 0x7F && strchr("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", (int)cp) != NULL;
}

/* The character rules; the password as given. */
static int classes(const char *password)
{
    const unsigned char *p = (const unsigned char *)password;
    int found = 0, count = 0;
    while (*p) {
        long cp = next_cp(&p);
        char base;
        int upper;
        if (cp < 0)
            return GM_INVALID;
        count++;
        if (cp >= 'A' && cp <= 'Z')
            found |= GM_UPPER;
        else if (cp >= 'a' && cp <= 'z')
            found |= GM_LOWER;
        else if (cp >= '0' && cp <= '9')
            found |= GM_DIGIT;
        else if (is_special(cp))
            found |= GM_SPECIAL;
        else if (letter((unsigned)cp, &base, &upper))
            found |= upper ? GM_UPPER : GM_LOWER;
    }
    return (count < 8 ? GM_SHORT : 0) | (~found & (GM_UPPER | GM_LOWER | GM_DIGIT | GM_SPECIAL));
}

/* GM_ADDRESS when the local part (dots removed) is inside the folded password. */
static int has_local(const char *folded, const char *address)
{
    char local[256];
    size_t n = 0;
    for (const char *c = address; *c && *c != '@' && n < sizeof(local) - 1; c++)
        if (*c != '.')
            local[n++] = (char)((*c >= 'A' && *c <= 'Z') ? *c - 'A' + 'a' : *c);
    local[n] = '\0';
    return n > 0 && strstr(folded, local) ? GM_ADDRESS : 0;
}

/* GM_NAME when a word of the name (3+ letters once folded) is inside the folded password. */
static int has_name_word(const char *folded, const char *name)
{
    size_t len = strlen(name);
    char *copy = malloc(len + 1), *word_fold = malloc(len + 1);
    int hit = 0;
    if (!copy || !word_fold) {
        free(copy);
        free(word_fold);
        return GM_INVALID;
    }
    memcpy(copy, name, len + 1);
    for (char *save = NULL, *word = strtok_r(copy, " \t\r\n", &save); word && !hit;
         word = strtok_r(NULL, " \t\r\n", &save)) {
        if (!fold(word, word_fold))
            hit = GM_INVALID;
        else if (strlen(word_fold) >= 3 && strstr(folded, word_fold))
            hit = GM_NAME;
    }
    free(copy);
    free(word_fold);
    return hit;
}

/* The whole rule for one password, address and name (either may be NULL): a mask of GM_* bits,
 * 0 when acceptable. Exported for the test that compares it with passwords.quality_problems. */
int govmail_problems(const char *password, const char *address, const char *name)
{
    int problems = classes(password);
    char *folded;
    if (problems & GM_INVALID)
        return problems;
    folded = malloc(strlen(password) + 1);
    if (!folded || !fold(password, folded)) {
        free(folded);
        return problems | GM_INVALID;
    }
    if (address)
        problems |= has_local(folded, address);
    if (name)
        problems |= has_name_word(folded, name);
    free(folded);
    return problems;
}

static const char *const MESSAGES[] = {
    "at least 8 characters", "an upper-case letter", "a lower-case letter", "a digit",
    "a special character such as ! @ # % $ * & ^", "not the address", "not a word of the name",
    "valid UTF-8 and a readable entry",
};

static char *describe(int problems)
{
    size_t size = 64;
    char *text;
    for (size_t i = 0; i < sizeof(MESSAGES) / sizeof(MESSAGES[0]); i++)
        size += strlen(MESSAGES[i]) + 2;
    text = malloc(size);
    if (!text)
        return NULL;
    strcpy(text, "R6.2: the password needs ");
    for (size_t i = 0, first = 1; i < sizeof(MESSAGES) / sizeof(MESSAGES[0]); i++) {
        if (problems & (1 << i)) {
            if (!first)
                strcat(text, ", ");
            strcat(text, MESSAGES[i]);
            first = 0;
        }
    }
    return text;
}

/* Every value of one attribute of the entry through fn; GM_INVALID when it cannot be read. */
static int each_value(GmEntry *entry, const char *attr, const char *password,
                      int (*fn)(const char *, const char *, const char *), int as_name)
{
    AttributeDescription *ad = NULL;
    const char *text = NULL;
    GmAttribute *a;
    int problems = 0;
    if (!slap_str2ad || !attr_find || slap_str2ad(attr, &ad, &text) != 0 || !ad)
        return GM_INVALID;
    a = attr_find(entry->e_attrs, ad);
    if (!a)
        return 0;
    for (struct berval *v = a->a_vals; v && v->bv_val; v++) {
        if (strlen(v->bv_val) != v->bv_len)
            return GM_INVALID;
        problems |= as_name ? fn(password, NULL, v->bv_val) : fn(password, v->bv_val, NULL);
    }
    return problems;
}

/* ppolicy's entry point (OpenLDAP 2.5 signature). */
int check_password(char *password, char **message, void *entry_ptr, struct berval *arg)
{
    GmEntry *entry = entry_ptr;
    int problems;
    (void)arg;
    if (message)
        *message = NULL;
    if (!password)
        return 1;
    problems = govmail_problems(password, NULL, NULL);
    if (!entry || !entry->e_name.bv_val || strlen(entry->e_name.bv_val) != entry->e_name.bv_len) {
        problems |= GM_INVALID; /* no entry to compare with: refuse rather than guess */
    } else if (!(problems & GM_INVALID)) {
        problems |= each_value(entry, "mail", password, govmail_problems, 0);
        problems |= each_value(entry, "uid", password, govmail_problems, 0);
        problems |= each_value(entry, "cn", password, govmail_problems, 1);
    }
    if (!problems)
        return 0;
    if (message)
        *message = describe(problems);
    return 1;
}
