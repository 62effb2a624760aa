package xsd

// The libxml2 side of a Set: compiling a schema, and validating a document while libxml2's parser
// reads it in chunks from the caller's bytes (a read callback over the Go slice: no copy of the
// whole into C, no tree), with the compiled schema plugged into the parser's SAX events
// (xmlSchemaSAXPlug), text handed to it in long pieces.
//
// A document is held to what a tree parse followed by xmlSchemaValidateDoc gives (the way
// go-xsd-validate's ValidateMem, used before, did it): the same parser options (none), the same
// parser text when the document is not well-formed (then no schema problem is reported), and each
// schema problem with the line and the name of the element a tree would give it, which is the
// line the element's start tag ends on, also for problems found at its end tag.

/*
#cgo pkg-config: libxml-2.0
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/SAX2.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlschemas.h>

typedef struct {
	char *s;
	size_t len, cap;
} portaText;

static void portaTextAdd(portaText *t, const char *s, size_t n) {
	if (t->len + n + 1 > t->cap) {
		size_t c = t->cap ? t->cap : 256;
		while (c < t->len + n + 1) c *= 2;
		char *p = realloc(t->s, c);
		if (p == NULL) return;
		t->s = p;
		t->cap = c;
	}
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = 0;
}

// portaCollect appends libxml2's formatted message to the portaText ctx.
static void portaCollect(void *ctx, const char *msg, ...) {
	char small[1024];
	va_list ap;
	va_start(ap, msg);
	int n = vsnprintf(small, sizeof small, msg, ap);
	va_end(ap);
	if (n < 0) return;
	if ((size_t)n < sizeof small) {
		portaTextAdd(ctx, small, n);
		return;
	}
	char *big = malloc(n + 1);
	if (big == NULL) return;
	va_start(ap, msg);
	vsnprintf(big, n + 1, msg, ap);
	va_end(ap);
	portaTextAdd(ctx, big, n);
	free(big);
}

static void portaDiscard(void *ctx, const char *msg, ...) {}

// portaCompile compiles the schema file at url. On failure schema is NULL and err (to free)
// holds the schema parser's messages.
typedef struct {
	xmlSchemaPtr schema;
	char *err;
} portaCompiled;

static portaCompiled portaCompile(const char *url) {
	portaCompiled out = {NULL, NULL};
	portaText perr = {NULL, 0, 0}, gen = {NULL, 0, 0};
	xmlGenericErrorFunc oldFunc = xmlGenericError;
	void *oldCtx = xmlGenericErrorContext;
	xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(url);
	if (pc == NULL) {
		out.err = strdup("Xsd parser internal error");
		return out;
	}
	xmlSchemaSetParserErrors(pc, portaCollect, portaDiscard, &perr);
	xmlSetGenericErrorFunc(&gen, portaCollect);
	out.schema = xmlSchemaParse(pc);
	xmlSchemaFreeParserCtxt(pc);
	xmlSetGenericErrorFunc(oldCtx, oldFunc);
	free(gen.s);
	if (out.schema == NULL) {
		out.err = perr.s != NULL ? perr.s : strdup("");
	} else {
		free(perr.s);
	}
	return out;
}

typedef struct {
	char *msg;
	char *node;
	int line;
} portaProblem;

// portaRun is one validation: what it found, and the open elements (start line and local name,
// a string of the parser's dictionary) that problems are attributed to.
typedef struct {
	portaText parse;      // the parser's messages, as the generic error function received them
	portaProblem *probs;
	int nprobs, cprobs;
	int wellFormed;
	int internal;         // the validator failed without naming a problem

	int *lines;
	const xmlChar **names;
	int depth, cap;
	int ending;           // between an end tag and the next event: problems belong to that element
	int endLine;
	const xmlChar *endName;

	xmlSAXHandlerPtr schema; // the validator's SAX handlers, called with schemaData
	void *schemaData;
	portaText text;          // text not yet handed to the validator
	size_t handed;           // text of the current run already handed to it
} portaRun;

// portaReader hands the parser the document in the chunks it asks for, from the caller's memory.
typedef struct {
	const char *p;
	size_t left;
} portaReader;

static int portaRead(void *ctx, char *buf, int len) {
	portaReader *rd = ctx;
	size_t n = (size_t)len < rd->left ? (size_t)len : rd->left;
	memcpy(buf, rd->p, n);
	rd->p += n;
	rd->left -= n;
	return (int)n;
}

static int portaClose(void *ctx) { return 0; }

static portaRun *portaOf(void *ctx) {
	return (portaRun *)((xmlParserCtxtPtr)ctx)->_private;
}

static void portaProblemAdd(portaRun *r, const char *msg, const xmlChar *node, int line) {
	if (r->nprobs == r->cprobs) {
		int c = r->cprobs ? 2 * r->cprobs : 4;
		portaProblem *p = realloc(r->probs, c * sizeof *p);
		if (p == NULL) return;
		r->probs = p;
		r->cprobs = c;
	}
	portaProblem *p = &r->probs[r->nprobs++];
	p->msg = strdup(msg != NULL ? msg : "");
	p->node = strdup(node != NULL ? (const char *)node : "");
	p->line = line;
}

static void portaStructured(void *ctx, xmlErrorPtr e) {
	portaRun *r = ctx;
	int line = e->line;
	const xmlChar *node = NULL;
	if (r->ending) {
		line = r->endLine;
		node = r->endName;
	} else if (r->depth > 0) {
		line = r->lines[r->depth - 1];
		node = r->names[r->depth - 1];
	}
	portaProblemAdd(r, e->message, node, line);
}

// portaFlush hands the text gathered so far to the validator. The validator appends each piece
// to the element's value after measuring it (xmlStrncat), so a 10 MB text in the parser's 4 KB
// reads cost seconds: it gets the text in pieces a quarter of what it holds, at least 256 KiB.
static void portaFlush(portaRun *r, int all) {
	if (r->text.len == 0) return;
	if (!all && (r->text.len < 256 << 10 || r->text.len < r->handed / 4)) return;
	r->schema->characters(r->schemaData, (const xmlChar *)r->text.s, (int)r->text.len);
	r->handed += r->text.len;
	r->text.len = 0;
	if (r->text.cap > 1 << 20) { // a long run's buffer is not kept for the rest of the document
		free(r->text.s);
		r->text.s = NULL;
		r->text.cap = 0;
	}
}

static void portaStart(void *ctx, const xmlChar *localname, const xmlChar *prefix,
		const xmlChar *URI, int nb_namespaces, const xmlChar **namespaces,
		int nb_attributes, int nb_defaulted, const xmlChar **attributes) {
	xmlParserCtxtPtr pc = ctx;
	portaRun *r = portaOf(ctx);
	portaFlush(r, 1);
	r->handed = 0;
	r->ending = 0;
	if (r->depth == r->cap) {
		int c = r->cap ? 2 * r->cap : 32;
		int *l = realloc(r->lines, c * sizeof *l);
		if (l == NULL) return;
		r->lines = l;
		const xmlChar **n = realloc(r->names, c * sizeof *n);
		if (n == NULL) return;
		r->names = n;
		r->cap = c;
	}
	int line = pc->input != NULL ? pc->input->line : 0;
	r->lines[r->depth] = line < 65535 ? line : 65535; // a tree node's line is an unsigned short
	r->names[r->depth] = localname;
	r->depth++;
	r->schema->startElementNs(r->schemaData, localname, prefix, URI, nb_namespaces, namespaces,
		nb_attributes, nb_defaulted, attributes);
}

static void portaEnd(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *URI) {
	portaRun *r = portaOf(ctx);
	portaFlush(r, 1);
	r->handed = 0;
	if (r->depth > 0) {
		r->depth--;
		r->ending = 1;
		r->endLine = r->lines[r->depth];
		r->endName = r->names[r->depth];
	}
	r->schema->endElementNs(r->schemaData, localname, prefix, URI);
}

static void portaChars(void *ctx, const xmlChar *ch, int len) {
	portaRun *r = portaOf(ctx);
	r->ending = 0;
	portaTextAdd(&r->text, (const char *)ch, len);
	portaFlush(r, 0);
}

static void portaCData(void *ctx, const xmlChar *value, int len) {
	portaRun *r = portaOf(ctx);
	portaFlush(r, 1);
	r->ending = 0;
	r->schema->cdataBlock(r->schemaData, value, len);
}

static void portaReference(void *ctx, const xmlChar *name) {
	portaRun *r = portaOf(ctx);
	portaFlush(r, 1);
	r->ending = 0;
	r->schema->reference(r->schemaData, name);
}

// Comments and processing instructions are nothing to the validator: the text around them is
// one value to it, as to a tree's validation.
static void portaComment(void *ctx, const xmlChar *value) { portaOf(ctx)->ending = 0; }
static void portaPI(void *ctx, const xmlChar *target, const xmlChar *data) { portaOf(ctx)->ending = 0; }

// portaValidate validates the len bytes at doc against schema. doc is only read, and only during
// the call. The caller frees r's contents with portaFree.
static void portaValidate(xmlSchemaPtr schema, const char *doc, int len, portaRun *r) {
	memset(r, 0, sizeof *r);
	xmlGenericErrorFunc oldFunc = xmlGenericError;
	void *oldCtx = xmlGenericErrorContext;
	xmlSetGenericErrorFunc(&r->parse, portaCollect);

	xmlParserCtxtPtr pc = NULL;
	xmlSchemaValidCtxtPtr vc = NULL;
	xmlSchemaSAXPlugPtr plug = NULL;
	xmlParserInputBufferPtr buf = NULL;
	pc = xmlNewParserCtxt();
	if (pc == NULL) goto internal;
	xmlCtxtUseOptions(pc, 0);
	pc->_private = r;
	vc = xmlSchemaNewValidCtxt(schema);
	if (vc == NULL) goto internal;
	xmlSchemaSetValidStructuredErrors(vc, portaStructured, r);
	// Plugged into no handler, the plug hands back the validator's own SAX handlers; the
	// parser's events go to ours, which call them.
	plug = xmlSchemaSAXPlug(vc, &r->schema, &r->schemaData);
	if (plug == NULL) goto internal;
	pc->sax->startElementNs = portaStart;
	pc->sax->endElementNs = portaEnd;
	pc->sax->startElement = NULL;
	pc->sax->endElement = NULL;
	pc->sax->characters = portaChars;
	pc->sax->ignorableWhitespace = portaChars;
	pc->sax->cdataBlock = portaCData;
	pc->sax->reference = portaReference;
	pc->sax->comment = portaComment;
	pc->sax->processingInstruction = portaPI;

	portaReader rd = {doc, (size_t)len};
	buf = xmlParserInputBufferCreateIO(portaRead, portaClose, &rd, XML_CHAR_ENCODING_NONE);
	if (buf == NULL) goto internal;
	xmlParserInputPtr in = xmlNewIOInputStream(pc, buf, XML_CHAR_ENCODING_NONE);
	if (in == NULL) {
		xmlFreeParserInputBuffer(buf);
		goto internal;
	}
	inputPush(pc, in);
	xmlParseDocument(pc);
	r->wellFormed = pc->wellFormed;
	xmlSchemaSAXUnplug(plug);
	plug = NULL;
	if (r->wellFormed && r->nprobs == 0 && xmlSchemaIsValid(vc) != 1) r->internal = 1;
	goto done;
internal:
	r->wellFormed = 1;
	r->internal = 1;
done:
	if (plug != NULL) xmlSchemaSAXUnplug(plug);
	if (vc != NULL) xmlSchemaFreeValidCtxt(vc);
	if (pc != NULL) {
		if (pc->myDoc != NULL) xmlFreeDoc(pc->myDoc);
		pc->myDoc = NULL;
		xmlFreeParserCtxt(pc);
	}
	xmlSetGenericErrorFunc(oldCtx, oldFunc);
}

static void portaFree(portaRun *r) {
	for (int i = 0; i < r->nprobs; i++) {
		free(r->probs[i].msg);
		free(r->probs[i].node);
	}
	free(r->probs);
	free(r->parse.s);
	free(r->text.s);
	free(r->lines);
	free(r->names);
}

static portaProblem *portaProblemAt(portaRun *r, int i) { return &r->probs[i]; }
*/
import "C"

import (
	"errors"
	"strings"
	"sync"
	"unsafe"
)

// initOnce guards libxml2's process-wide initialisation; it is never undone, since other Sets
// (and other users of libxml2 in the process) may be open.
var initOnce sync.Once

// schema is one compiled schema, shared read-only by concurrent validations.
type schema struct {
	ptr C.xmlSchemaPtr
}

// compile compiles the schema file at file; the error is the schema parser's text.
func compile(file string) (*schema, error) {
	initOnce.Do(func() { C.xmlInitParser() })
	cfile := C.CString(file)
	defer C.free(unsafe.Pointer(cfile))
	out := C.portaCompile(cfile)
	if out.schema == nil {
		msg := C.GoString(out.err)
		C.free(unsafe.Pointer(out.err))
		return nil, errors.New(strings.Trim(msg, "\n"))
	}
	return &schema{ptr: out.schema}, nil
}

func (s *schema) free() {
	if s.ptr != nil {
		C.xmlSchemaFree(s.ptr)
		s.ptr = nil
	}
}

// maxProblems bounds the schema problems reported for one document.
const maxProblems = 1 << 20

// errInternal is libxml2 failing without a verdict on the document.
var errInternal = errors.New("Xml validation internal error")

// validate reads doc once, validating it against s as it goes. It returns the problems found
// (nil: valid), or notXML with libxml2's parser text when doc is not well-formed.
func (s *schema) validate(doc []byte) (problems []Problem, notXML string, err error) {
	if len(doc) == 0 {
		return nil, "parser error : Document is empty", nil
	}
	var r C.portaRun
	C.portaValidate(s.ptr, (*C.char)(unsafe.Pointer(&doc[0])), C.int(len(doc)), &r)
	defer C.portaFree(&r)
	if r.wellFormed == 0 {
		return nil, strings.Trim(C.GoStringN(r.parse.s, C.int(r.parse.len)), "\n"), nil
	}
	if r.nprobs > maxProblems {
		return nil, "", errors.New("too many validation errors")
	}
	for i := 0; i < int(r.nprobs); i++ {
		p := C.portaProblemAt(&r, C.int(i))
		msg := strings.Trim(C.GoString(p.msg), "\n")
		problems = append(problems, Problem{Line: int(p.line), Element: elementOf(C.GoString(p.node), msg), Message: msg})
	}
	if len(problems) == 0 && r.internal != 0 {
		return nil, "", errInternal
	}
	return problems, "", nil
}
