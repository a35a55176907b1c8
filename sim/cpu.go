package sim

import "math"

// A cpu is the cores of a machine that the workers share with the
// services (Calibration.Host), shared as a processor-sharing server:
// every piece of work in progress advances at the same rate, 1 while the
// cores demanded add up to no more than the machine has, cores / demand
// when they add up to more. A kernel demands a core; a tile transfer the
// cores the machine was busy with while one ran alone (the worker's
// client and the store's server). The work of a piece is its duration
// on an idle machine.
type cpu struct {
	s      *sim
	cores  float64
	jobs   []*cpuJob
	demand float64
	last   float64 // when the work left was last brought up to date
	gen    uint64  // the scheduled completion's; a newer one cancels it
}

type cpuJob struct {
	work, demand float64
	done         func()
}

// rate is the speed at which every piece of work advances.
func (c *cpu) rate() float64 {
	if c.demand <= c.cores {
		return 1
	}
	return c.cores / c.demand
}

// update brings the work left up to now.
func (c *cpu) update() {
	if d := c.s.now - c.last; d > 0 {
		r := c.rate()
		for _, j := range c.jobs {
			j.work -= d * r
		}
	}
	c.last = c.s.now
}

// run starts work seconds of work (as long on an idle machine) demanding
// demand cores, and calls done when it is finished.
func (c *cpu) run(work, demand float64, done func()) {
	if work <= 0 {
		c.s.at(c.s.now, done)
		return
	}
	c.update()
	c.jobs = append(c.jobs, &cpuJob{work: work, demand: demand, done: done})
	c.demand += demand
	c.schedule()
}

// schedule sets the next completion.
func (c *cpu) schedule() {
	c.gen++
	if len(c.jobs) == 0 {
		return
	}
	next, first := math.Inf(1), (*cpuJob)(nil)
	for _, j := range c.jobs {
		if j.work < next {
			next, first = j.work, j
		}
	}
	gen := c.gen
	c.s.at(c.s.now+max(next, 0)/c.rate(), func() {
		if gen != c.gen {
			return
		}
		c.update()
		var finished []*cpuJob
		kept := c.jobs[:0]
		for _, j := range c.jobs {
			if j == first || j.work <= 1e-9 { // rounding must not leave a sliver of work
				finished = append(finished, j)
				c.demand -= j.demand
			} else {
				kept = append(kept, j)
			}
		}
		c.jobs = kept
		if len(c.jobs) == 0 {
			c.demand = 0
		}
		c.schedule()
		for _, j := range finished {
			j.done()
		}
	})
}
