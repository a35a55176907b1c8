package redisstate

// Every key of a job is built here. All of them carry the job id as a
// hash tag, {id}, so a job's keys live in one Redis Cluster slot and one
// Lua script may touch them all.
//
//	<prefix>:{<job>}:meta      hash: tasks, ndone, phase, error, ttl,
//	                           scratch, peak, and the summed metrics
//	<prefix>:{<job>}:done      set of the tasks that are done
//	<prefix>:{<job>}:waiting   hash: child -> the parents done so far, each
//	                           followed by "\n"
//	<prefix>:{<job>}:tiles     hash: scratch tile -> "readers bytes freed\n"
//	                           then its readers that released it, each
//	                           followed by "\n" (cleared once freed)
//	<prefix>:{<job>}:failures  hash: task -> failed attempts
//	<prefix>:{<job>}:workers   list of worker reports, in arrival order
//	<prefix>:{<job>}:next      hash: task -> the child its worker ran
//	                           next itself (a continuation)
//	<prefix>:{<job>}:beats     sorted set: worker -> its last heartbeat,
//	                           in unix milliseconds
//	<prefix>:{<job>}:usage     hash: member (a worker, a provisioner) ->
//	                           what it has used so far
//
// The keys above are the job's task state: the scripts take them all
// (keys.all), renew their expiry together, and Delete removes them. Two
// more keys are apart from the task state and no script takes them:
//
//	<prefix>:{<job>}:record    string: the job's record (state.Driver's
//	                           PutRecord), with an expiry of its own (none
//	                           for a ttl of 0); Delete leaves it
//	<prefix>:jobs              set: the ids of the jobs that have a record.
//	                           Not hash-tagged (it spans jobs, so it lives
//	                           in a slot of its own) and touched only with
//	                           plain commands outside scripts; ids whose
//	                           record is gone (expired) are removed as it
//	                           is read.

type keys struct {
	meta, done, waiting, tiles, failures, workers, next, beats, usage string
	record                                                            string // not in all
}

func jobKeys(prefix, job string) keys {
	base := prefix + ":{" + job + "}:"
	return keys{
		meta:     base + "meta",
		done:     base + "done",
		waiting:  base + "waiting",
		tiles:    base + "tiles",
		failures: base + "failures",
		workers:  base + "workers",
		next:     base + "next",
		beats:    base + "beats",
		usage:    base + "usage",
		record:   base + "record",
	}
}

// all lists the keys of the job's task state in the order the scripts
// take them; the record is not among them.
func (k keys) all() []string {
	return []string{k.meta, k.done, k.waiting, k.tiles, k.failures, k.workers, k.next, k.beats, k.usage}
}

// indexKey is the set of the ids of the jobs that have a record.
func indexKey(prefix string) string { return prefix + ":jobs" }
