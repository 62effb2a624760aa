//go:build cgo

package libxml2oracle

/*
#cgo pkg-config: libxml-2.0
#include <stdlib.h>
#include <string.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/c14n.h>
#include <libxml/xmlerror.h>

#define ORACLE_MAX 16
#define ORACLE_MSG 240

typedef struct {
	int n;
	int code[ORACLE_MAX];
	int domain[ORACLE_MAX];
	char msg[ORACLE_MAX][ORACLE_MSG];
	int wellFormed, nsWellFormed;
} oracle_report;

static void oracle_record(oracle_report *r, xmlErrorPtr err) {
	if (r == NULL || err == NULL || err->level < XML_ERR_ERROR) return;
	if (r->n < ORACLE_MAX) {
		r->code[r->n] = err->code;
		r->domain[r->n] = err->domain;
		r->msg[r->n][0] = 0;
		if (err->message != NULL) {
			strncpy(r->msg[r->n], err->message, ORACLE_MSG - 1);
			r->msg[r->n][ORACLE_MSG - 1] = 0;
		}
	}
	r->n++;
}

// The parser's errors reach sax->serror with the context's userData, the context itself.
static void oracle_parser_error(void *user, xmlErrorPtr err) {
	xmlParserCtxtPtr ctxt = (xmlParserCtxtPtr) user;
	oracle_record((oracle_report *) ctxt->_private, err);
}

// The canonicalizer's errors have no parser context: they reach the structured handler.
static void oracle_global_error(void *user, xmlErrorPtr err) {
	oracle_record((oracle_report *) user, err);
}

static void oracle_silent(void *ctx, const char *msg, ...) {}


// oracle_parse reads buf with no network access and no entity substitution; the document is
// returned when the input is well-formed (namespace errors leave it, as xmlReadMemory does).
static xmlDocPtr oracle_parse(const char *buf, int len, oracle_report *r) {
	xmlParserCtxtPtr ctxt = xmlCreateMemoryParserCtxt(buf, len);
	if (ctxt == NULL) return NULL;
	xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_NOWARNING);
	ctxt->_private = r;
	ctxt->sax->serror = oracle_parser_error;
	xmlParseDocument(ctxt);
	xmlDocPtr doc = ctxt->myDoc;
	r->wellFormed = ctxt->wellFormed;
	r->nsWellFormed = ctxt->nsWellFormed;
	ctxt->myDoc = NULL;
	xmlFreeParserCtxt(ctxt);
	if (!r->wellFormed && doc != NULL) {
		xmlFreeDoc(doc);
		doc = NULL;
	}
	return doc;
}

// oracle_visible makes visible the apex element (user) and everything in its subtree: for an
// attribute or a namespace node, the element it belongs to (parent) decides.
static int oracle_visible(void *user, xmlNodePtr node, xmlNodePtr parent) {
	xmlNodePtr apex = (xmlNodePtr) user;
	xmlNodePtr n = parent;
	if (node != NULL && node->type != XML_NAMESPACE_DECL && node->type != XML_ATTRIBUTE_NODE) n = node;
	for (; n != NULL; n = n->parent) {
		if (n == apex) return 1;
	}
	return 0;
}

// oracle_element returns the k-th element of doc in document order (0 the root), or NULL.
static xmlNodePtr oracle_element(xmlDocPtr doc, int k) {
	xmlNodePtr n = xmlDocGetRootElement(doc);
	while (n != NULL) {
		if (n->type == XML_ELEMENT_NODE && k-- == 0) return n;
		if (n->children != NULL && n->type == XML_ELEMENT_NODE) { n = n->children; continue; }
		while (n != NULL && n->next == NULL) {
			n = n->parent;
			if (n == NULL || n->type == XML_DOCUMENT_NODE) return NULL;
		}
		if (n != NULL) n = n->next;
	}
	return NULL;
}

// oracle_c14n writes the exclusive C14N (no comments) of the k-th element's subtree to *out
// (malloc'd, *size bytes); it returns < 0 on failure.
static int oracle_c14n(xmlDocPtr doc, int k, char **prefixes, char **out, int *size, oracle_report *r) {
	xmlNodePtr apex = oracle_element(doc, k);
	if (apex == NULL) return -2;
	xmlOutputBufferPtr buf = xmlAllocOutputBuffer(NULL);
	if (buf == NULL) return -3;
	xmlSetGenericErrorFunc(NULL, oracle_silent);
	xmlSetStructuredErrorFunc(r, oracle_global_error);
	int ret = xmlC14NExecute(doc, oracle_visible, apex, XML_C14N_EXCLUSIVE_1_0, (xmlChar **) prefixes, 0, buf);
	xmlSetStructuredErrorFunc(NULL, NULL);
	xmlSetGenericErrorFunc(NULL, NULL);
	if (ret >= 0) {
		*size = (int) xmlOutputBufferGetSize(buf);
		*out = malloc(*size + 1);
		memcpy(*out, xmlOutputBufferGetContent(buf), *size);
	}
	xmlOutputBufferClose(buf);
	return ret;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unsafe"
)

// Problem is one error (not warning) libxml2 reported.
type Problem struct {
	Code    int // libxml2's xmlParserErrors value, e.g. 203 XML_NS_ERR_ATTRIBUTE_REDEFINED
	Domain  int // libxml2's xmlErrorDomain: 1 parser, 3 namespace, 11 C14N, ...
	Message string
}

func (p Problem) String() string {
	return fmt.Sprintf("libxml2 error %d (domain %d): %s", p.Code, p.Domain, strings.TrimSpace(p.Message))
}

// Codes libxml2 uses that callers test for.
const (
	WarnNSURI               = 99   // XML_WAR_NS_URI: "xmlns:p: 'x' is not a valid URI" (an error despite its name)
	NSErrAttributeRedefined = 203  // XML_NS_ERR_ATTRIBUTE_REDEFINED
	C14NRelativeNamespace   = 1955 // XML_C14N_RELATIVE_NAMESPACE

	DomainC14N = 21 // XML_FROM_C14N
)

// Result is libxml2's reading of a document: WellFormed is false after any fatal error (no
// document), NSWellFormed false after a namespace error (libxml2 still builds the document).
type Result struct {
	WellFormed   bool
	NSWellFormed bool
	Problems     []Problem
}

// Accepts reports whether libxml2 reads the document without any error, or only errors whose
// codes are in tolerated.
func (r Result) Accepts(tolerated ...int) bool {
	if !r.WellFormed {
		return false
	}
	for _, p := range r.Problems {
		if !contains(tolerated, p.Code) {
			return false
		}
	}
	return true
}

func contains(list []int, c int) bool {
	for _, x := range list {
		if x == c {
			return true
		}
	}
	return false
}

// libxml2 keeps per-thread error state and global handlers; one call at a time is plenty for a
// test oracle.
var mu sync.Mutex

var initOnce sync.Once

func report(r *C.oracle_report) []Problem {
	var out []Problem
	for i := 0; i < int(r.n) && i < C.ORACLE_MAX; i++ {
		out = append(out, Problem{Code: int(r.code[i]), Domain: int(r.domain[i]), Message: C.GoString(&r.msg[i][0])})
	}
	return out
}

// parse runs the parser over data and returns the document (nil when not well-formed), which
// the caller frees.
func parse(data []byte) (C.xmlDocPtr, Result) {
	initOnce.Do(func() { C.xmlInitParser() })
	var r C.oracle_report
	if len(data) == 0 {
		return nil, Result{Problems: []Problem{{Code: 4, Domain: 1, Message: "Document is empty"}}}
	}
	buf := C.CBytes(data)
	defer C.free(buf)
	doc := C.oracle_parse((*C.char)(buf), C.int(len(data)), &r)
	return doc, Result{WellFormed: r.wellFormed != 0, NSWellFormed: r.nsWellFormed != 0, Problems: report(&r)}
}

// Read parses data as xmlReadMemory does with XML_PARSE_NONET (no entity substitution, no DTD
// loaded) and reports what libxml2 found wrong.
func Read(data []byte) Result {
	mu.Lock()
	defer mu.Unlock()
	doc, res := parse(data)
	if doc != nil {
		C.xmlFreeDoc(doc)
	}
	return res
}

// Canonicalize returns libxml2's Exclusive XML Canonicalization 1.0, without comments, of the
// subtree of the element-th element of data in document order (0 the root), as the node set of
// that element and its descendants, through xmlC14NExecute with XML_C14N_EXCLUSIVE_1_0;
// inclusive is the InclusiveNamespaces PrefixList ("#default" for the default namespace). The
// error says why libxml2 refused to read or canonicalize the document; the Result is its parse.
func Canonicalize(data []byte, element int, inclusive []string) ([]byte, Result, error) {
	mu.Lock()
	defer mu.Unlock()
	doc, res := parse(data)
	if doc == nil {
		return nil, res, errors.New("libxml2: the document is not well-formed")
	}
	defer C.xmlFreeDoc(doc)
	var prefixes **C.char
	if len(inclusive) > 0 {
		arr := C.malloc(C.size_t(len(inclusive)+1) * C.size_t(unsafe.Sizeof(uintptr(0))))
		defer C.free(arr)
		s := unsafe.Slice((**C.char)(arr), len(inclusive)+1)
		for i, p := range inclusive {
			s[i] = C.CString(p)
			defer C.free(unsafe.Pointer(s[i]))
		}
		s[len(inclusive)] = nil
		prefixes = (**C.char)(arr)
	}
	var out *C.char
	var size C.int
	var r C.oracle_report
	switch n := C.oracle_c14n(doc, C.int(element), prefixes, &out, &size, &r); {
	case n == -2:
		return nil, res, fmt.Errorf("libxml2: the document has no element %d", element)
	case n < 0:
		ps := report(&r)
		res.Problems = append(res.Problems, ps...)
		if len(ps) > 0 {
			return nil, res, fmt.Errorf("libxml2 c14n: %s", ps[0])
		}
		return nil, res, errors.New("libxml2 c14n failed")
	}
	defer C.free(unsafe.Pointer(out))
	return C.GoBytes(unsafe.Pointer(out), size), res, nil
}
