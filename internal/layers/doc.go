// Package layers holds no code: its test checks that the module's packages
// import one another top-down, in the layers docs/architecture.md draws:
//
//	cmd/sealpost                      the command line
//	check demo metrics schedule ...   clients of the engine
//	exchange                          the engine: one partner's cycle, behind a façade
//	exchange/*                        its parts: transports, bundle, log, sealing
//	config crypto                     foundations
//	internal/*                        helpers that know no sealpost concept
//
// A package may import packages of lower layers only, plus the few
// same-layer edges the test names (a transport imports drop's vocabulary).
// A new package fails the test until it is given its layer.
package layers
