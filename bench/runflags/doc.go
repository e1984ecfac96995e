// Package runflags is the one mapping from etcdlab's run flags
// (--engine, --snapshot-count, --read-ratio, --link-delay ...) to a
// bench.Config. `etcdlab run` binds it to its command line; sweeps and
// experiment presets use the same flag names as parameter names and go
// through Build, so a sweep parameter means exactly what the run flag means.
//
// Contract:
//   - Register adds every run flag (except --out, which belongs to the
//     command) with its documented default to a pflag.FlagSet.
//   - Flags.Config turns parsed flags into an EnsureDefaults'd, validated
//     bench.Config, reporting every problem at once (errors.Join).
//   - Build applies name=value settings in order, as if given on the
//     command line after the defaults; an unknown name is an error that
//     lists the accepted ones.
package runflags
