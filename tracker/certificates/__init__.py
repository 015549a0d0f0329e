"""Certificates of online training (培训证明): who may have one, issuing and revoking, the signed document, its PDF,
the public verification page and `tracker cert verify`."""
