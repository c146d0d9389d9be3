"""Identity primitives shared by the API and anyone verifying our credentials.

- ``envelope``: AES-GCM envelope encryption (per-record data keys wrapped by a master key);
- ``uniqueness``: the keyed hash (HMAC-SHA256 with a secret pepper) of a national identifier;
- ``did``: ``did:pkh`` subjects, ``did:web`` issuers, DID documents and resolvers;
- ``status_list``: W3C Bitstring Status List encoding;
- ``issue``: signing W3C VC 2.0 credentials as ``vc+jwt`` (raises on failure);
- ``verify``: verifying them (returns a result with ``verified`` and ``errors``, never raises).

Nothing here touches the database or the network: the API plugs resolvers in.
"""
