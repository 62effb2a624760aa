// Package xmlsafe owns reading untrusted XML and writing XML trees: Parse turns bytes into an
// etree document after the checks every message from outside needs (caps on size, depth, elements,
// attributes and names, each refused as soon as it is passed, no DOCTYPE or other DTD construct
// and so no entity declaration or expansion, one root, no duplicated attribute by expanded name,
// namespace-well-formed, attribute values normalised as XML 1.0 requires), through a fast reader
// of its own where that reader provably builds the same tree and through encoding/xml otherwise.
// What Parse accepts, libxml2 (the parser of xmlsec1 and most peers) reads too: the fuzz targets
// hold both readers to it. Write serialises a tree byte for byte as etree does, without etree's
// allocations (write.go).
//
// It knows nothing of SOAP, WS-Security or the eGov busta, and it never resolves anything
// outside the input (no network, no files). Errors are *Error, which callers map to their own
// protocol codes; Parse never panics on bad input.
package xmlsafe
