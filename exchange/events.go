package exchange

// Events the engine writes besides the ones every log reader knows
// (audit.EvUploaded, audit.EvFiled, ...).
const (
	evPushFinished  = "push.finished"    // a push phase ended; detail gives the counts
	evPullFinished  = "pull.finished"    // a pull phase ended; detail gives the counts
	evDuplicate     = "bundle.duplicate" // a bundle seen again was not filed twice
	evRemoteSkipped = "remote.skipped"   // a name on the drop was not fetched (hostile or not a file)
)
