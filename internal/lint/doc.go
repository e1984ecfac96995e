// Package lint holds tests that enforce the project's conventions across
// packages (style practice 15): code that must be deterministic by seed reads
// time only through internal/clock and draws randomness only from sources it
// was given; and the engine registry (etcdlab/engines) is the one place that
// lists the engines. It has no non-test code.
package lint
