// Package libxml2oracle is libxml2, the XML stack of xmlsec1, xmllint and most SOAP peers, as an
// independent oracle for our own XML reading and canonicalization in tests and fuzz targets: what
// its parser refuses, with its error codes (Read), and its Exclusive XML Canonicalization 1.0
// (Canonicalize).
//
// It is test support: nothing on a message path may import it, and it is built only with cgo
// (without cgo the package is empty and the tests that use it are not built). It never loads
// anything from the network or the file system and never substitutes entities.
package libxml2oracle
