"""The JSON Schemas of the account files, as Python data (the source of truth).

Modules run from an AnsiballZ bundle that carries Python files only, so the schemas live here;
``govmail schema --write`` renders them to ``schema/*.schema.json`` for editors, and a test keeps
the two identical.
"""

ORG = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://govmail.example/schema/org.schema.json",
    "title": "govmail unit account file (accounts/<org id>.yaml)",
    "description": "The accounts one unit wants: the unit itself, its sub-units and rooms, and its people. Regulation: "
    "Article 5 (addresses), Articles 7-8 (requests, suspension, revocation).",
    "type": "object",
    "additionalProperties": False,
    "required": ["org"],
    "properties": {
        "org": {
            "type": "object",
            "additionalProperties": False,
            "required": ["id", "name", "kind", "owners"],
            "properties": {
                "id": {
                    "$ref": "#/$defs/id",
                    "description": "Abbreviation used in addresses (R5.1a). For a commune, "
                    "ward or special zone: the slug of its name (R5.1b).",
                },
                "name": {
                    "$ref": "#/$defs/text",
                    "description": 'Full Vietnamese name, NFC. For communes the place name alone: "Ninh Phước".',
                },
                "kind": {
                    "enum": ["province_body", "commune", "ward", "special_zone", "other_body"],
                    "description": "R5.1a province_body, R5.1b commune/ward/special_zone, R5.1đ other_body.",
                },
                "owners": {
                    "type": "array",
                    "minItems": 1,
                    "uniqueItems": True,
                    "items": {"$ref": "#/$defs/handle"},
                    "description": "Who may propose changes to this file (forge users or teams).",
                },
                "contact": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name", "title"],
                    "description": "The Appendix form's contact person for this unit's requests.",
                    "properties": {
                        "name": {"$ref": "#/$defs/text"},
                        "title": {"$ref": "#/$defs/text"},
                        "phone": {"type": "string", "pattern": "^[0-9 +().-]{6,20}$"},
                        "email": {"$ref": "#/$defs/address"},
                    },
                },
                "bodies": {
                    "type": "array",
                    "uniqueItems": True,
                    "items": {
                        "anyOf": [
                            {"enum": ["du", "ubnd", "hdnd"]},
                            {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["id"],
                                "properties": {
                                    "id": {"enum": ["du", "ubnd", "hdnd"]},
                                    "status": {"$ref": "#/$defs/status"},
                                    "reason": {"$ref": "#/$defs/reason"},
                                    "since": {"$ref": "#/$defs/date"},
                                    "reset": {"$ref": "#/$defs/reset"},
                                },
                            },
                        ]
                    },
                    "description": "Commune-level bodies that get a mailbox (R5.1b). Default: all three. A body "
                    "written as {id: ubnd, status: …, reason: …, since: …, reset: …} has a state of its own.",
                },
                "mailbox": {"type": "boolean", "description": "Whether the unit itself has a mailbox. Default true."},
                "status": {"$ref": "#/$defs/status"},
                "reason": {"$ref": "#/$defs/reason"},
                "since": {"$ref": "#/$defs/date"},
                "reset": {"$ref": "#/$defs/reset"},
            },
        },
        "units": {"$ref": "#/$defs/units"},
        "people": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "title"],
                "properties": {
                    "name": {"$ref": "#/$defs/text", "description": "Full name with diacritics, NFC."},
                    "title": {"$ref": "#/$defs/text", "description": "Position (chức vụ)."},
                    "unit": {
                        "type": "string",
                        "pattern": "^[a-z][a-z0-9]*(/[a-z][a-z0-9]*)*$",
                        "description": "Unit path inside this org, e.g. ppc or ttytkvprtc/ptctc.",
                    },
                    "given_name": {
                        "$ref": "#/$defs/text",
                        "description": "The word(s) forming the given name when it is not the last word.",
                    },
                    "address": {
                        "$ref": "#/$defs/address",
                        "description": "Written by `govmail allocate`; fixed once issued.",
                    },
                    "status": {"$ref": "#/$defs/status"},
                    "reason": {"$ref": "#/$defs/reason"},
                    "since": {"$ref": "#/$defs/date"},
                    "reset": {"$ref": "#/$defs/reset"},
                    "inactive_reason": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["text", "until"],
                        "description": "R8.2a 'unless a reason is given': why the account is not used (leave, "
                        "training abroad …) and until when; the inactivity scan proposes nothing before the day after.",
                        "properties": {"text": {"$ref": "#/$defs/text"}, "until": {"$ref": "#/$defs/date"}},
                    },
                    "aliases": {"type": "array", "uniqueItems": True, "items": {"$ref": "#/$defs/address"}},
                    "quota": {
                        "$ref": "#/$defs/quota",
                        "description": "Mailbox quota of this person, instead of the province's default for people.",
                    },
                },
            },
        },
    },
    "$defs": {
        "id": {"type": "string", "pattern": "^[a-z][a-z0-9]*$"},
        "handle": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.@/-]*$"},
        "text": {"type": "string", "minLength": 1},
        "date": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
        "address": {"type": "string", "pattern": "^[a-z0-9]+(\\.[a-z0-9]+)*@[a-z0-9-]+(\\.[a-z0-9-]+)+$"},
        "status": {"enum": ["active", "suspended", "revoked"]},
        "reset": {
            "type": ["string", "integer"],
            "description": "Password-reset request token: a new value asks for a reset.",
        },
        "quota": {"type": "string", "pattern": "^[1-9][0-9]{0,5}[KMGT]$"},
        "reason": {
            "type": "string",
            "pattern": "^(inactive|compromised|prohibited|transferred|retired|resigned|requested|other)\\b",
            "description": "A code (R8.2: inactive, compromised, prohibited, transferred, retired, resigned; "
            "or requested, other) then free text.",
        },
        "units": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "name"],
                "properties": {
                    "id": {"$ref": "#/$defs/id"},
                    "name": {"$ref": "#/$defs/text"},
                    "mailbox": {"type": "boolean"},
                    "status": {"$ref": "#/$defs/status"},
                    "reason": {"$ref": "#/$defs/reason"},
                    "since": {"$ref": "#/$defs/date"},
                    "reset": {"$ref": "#/$defs/reset"},
                    "units": {"$ref": "#/$defs/units"},
                },
            },
        },
    },
}

PROVINCE = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://govmail.example/schema/province.schema.json",
    "title": "govmail province file (accounts/province.yaml)",
    "description": "Settings that hold for every account of the province's system.",
    "type": "object",
    "additionalProperties": False,
    "required": ["domain", "province_code", "approvers"],
    "properties": {
        "domain": {
            "type": "string",
            "pattern": "^[a-z0-9-]+(\\.[a-z0-9-]+)+$",
            "description": "The mail domain (R3.1).",
        },
        "province_code": {
            "type": "string",
            "pattern": "^[a-z][a-z0-9]*$",
            "description": "Suffix for other state bodies and enterprises (R5.1đ).",
        },
        "approvers": {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {"type": "string", "minLength": 1},
            "description": "Who approves every change (R7.1).",
        },
        "reserved": {
            "type": "array",
            "uniqueItems": True,
            "items": {"type": "string", "pattern": "^[a-z0-9]+(\\.[a-z0-9]+)*$"},
            "description": "Local parts never issued to anyone.",
        },
        "approved_addresses": {
            "type": "array",
            "uniqueItems": True,
            "items": {"type": "string", "format": "email", "maxLength": 254},
            "description": "Addresses the approvers allow a unit to hold outside Article 5's forms.",
        },
        "communes": {
            "type": "string",
            "minLength": 1,
            "description": "Path (relative to this file) of the reference list of communes, wards and special zones.",
        },
        "system_accounts": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["address", "name"],
                "properties": {
                    "address": {"type": "string", "pattern": "^[a-z0-9]+(\\.[a-z0-9]+)*@[a-z0-9-]+(\\.[a-z0-9-]+)+$"},
                    "name": {"type": "string", "minLength": 1},
                    "title": {"type": "string", "minLength": 1},
                },
            },
        },
        "quotas": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                kind: {"type": "string", "pattern": "^[1-9][0-9]{0,5}[KMGT]$"}
                for kind in ("person", "org", "body", "unit", "system")
            },
            "description": "Default mailbox quota per kind of account (Dovecot size: 500M, 2G …); an account "
            "without one gets the mail server's default (dovecot__quota_default).",
        },
    },
}

SCHEMAS = {"org": ORG, "province": PROVINCE}
