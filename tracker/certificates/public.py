"""What anyone may see of a certificate by its number (the page /verify/<number> and /api/v1/verify/<number>):
enough to tell that the paper in hand is genuine and still valid, nothing more. Not shown: the identity category
(it can say 残疾人 or 贫困劳动力), exam scores, photo checks, study dates, the reason for a revocation."""


def mask_name(name):
    """Keep the first character, mask every other one: 张三 → 张*, 欧阳娜娜 → 欧***.

    Keeping only the first character (rather than a whole compound surname such as 欧阳) needs no list of surnames
    and shows less; the masked ID number beside it tells two holders apart. A "·" in a transliterated name stays.
    """
    name = (name or "").strip()
    if len(name) <= 1:
        return "*" if name else ""
    return name[0] + "".join(c if c in "·•." else "*" for c in name[1:])


def public_summary(result):
    """The certificate as the public sees it, from services.check's result."""
    facts, revocation = result["facts"], result["revocation"]
    status = "revoked" if revocation is not None else "valid" if result["valid"] else "invalid"
    trainee, cls, online = facts.get("trainee") or {}, facts.get("class") or {}, facts.get("online") or {}
    return {
        "name": mask_name(trainee.get("name")),
        "id_mask": trainee.get("id_mask"),
        "occupation": cls.get("occupation") or "",
        "level": cls.get("level") or "",  # classes carry no level yet; shown when a certificate records one
        "class": cls.get("name") or "",
        "credited_class_hours": online.get("credited_class_hours"),
        "required_class_hours": online.get("required_class_hours"),
        "issued_at": facts.get("issued_at"),
        "status": status,
        "revoked_at": revocation.revoked_at.isoformat() if revocation is not None else None,
    }
