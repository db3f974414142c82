package onus

// Log keys: the attribute names every package logs under with log/slog,
// so that one query finds a run, a source or a message across the logs
// of sync, evaluation, delivery and the scheduler. Subsystem loggers are
// made with Logger.With(LogSubsystem, "monitor").
const (
	LogSubsystem = "subsystem" // "monitor", "schedule", "serve", "watch"
	LogError     = "error"
	LogRun       = "run"       // a sync or evaluation run id
	LogSource    = "source"    // a source name
	LogConnector = "connector" // a connector name
	LogRecords   = "records"   // how many records
	LogJob       = "job"       // a scheduled job name
	LogTrigger   = "trigger"   // why a job ran
	LogDuration  = "duration"  // how long something took
	LogOutbox    = "outbox"    // an outbox message id
	LogRecipient = "recipient" // an e-mail address
	LogChannel   = "channel"   // a delivery channel
	LogKind      = "kind"      // a message kind
	LogAttempt   = "attempt"   // the attempt number of a delivery
)
