package anagrafe

// Hand-written: gowsdl v0.5.0 references these XSD built-ins without defining them.

// PositiveInteger is xs:positiveInteger (values from 1).
type PositiveInteger uint64

// NonNegativeInteger is xs:nonNegativeInteger.
type NonNegativeInteger uint64
