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

type keys struct {
	meta, done, waiting, tiles, failures, workers, next string
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
	}
}

// all lists the keys in the order the scripts take them.
func (k keys) all() []string {
	return []string{k.meta, k.done, k.waiting, k.tiles, k.failures, k.workers, k.next}
}
