package npw

// The production drivers register their URL schemes when imported, so
// that every program built on this package (the npw command among them)
// reaches the cloud services by URL.
import (
	_ "github.com/npw-dev/npw/blockstore/s3store" // s3://
	_ "github.com/npw-dev/npw/queue/sqsqueue"     // sqs://
	_ "github.com/npw-dev/npw/state/redisstate"   // redis://, rediss://
)
