// Package scuola is the school side of the attendance and drop-out exchange
// (wsdl/scuola.wsdl, xsd/schemas/labour/scuola.xsd), our design mirroring the communication
// moments of the Anagrafe Nazionale degli Studenti: the domain record of a pupil's attendance
// (Pupil), a school's own attendance data over any sqlx database (Attendance), the Service a
// school's gateway delivers requests to (Service.Handle: an extraction is requested, answered
// with a receipt, and polled until ready: the asynchronous asymmetric profile), the province's
// request builders and result reader, and a deterministic generator of pupils with drop-outs.
//
// It must not decide what the province does with a drop-out (adapters/merge flags pupils under
// 18), nor know about the busta or HTTP.
package scuola
