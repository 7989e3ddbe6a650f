package jirafake

// Status categories, as Jira names them in statusCategory.key.
const (
	CategoryNew           = "new"
	CategoryIndeterminate = "indeterminate"
	CategoryDone          = "done"
)

// Status is one workflow status.
type Status struct {
	Name     string
	Category string // CategoryNew, CategoryIndeterminate or CategoryDone
	// Resolution is set when the status is entered by a transition without a resolution
	// screen (Jira's post-function); entering a status outside the done category always
	// clears the resolution.
	Resolution string
}

// Transition is one workflow transition.
type Transition struct {
	ID   string
	Name string
	// From lists the statuses the transition is offered from; empty means every status but
	// its target (a global transition).
	From []string
	To   string
	// ResolutionScreen puts a required Resolution field on the transition's screen: the
	// transition fails with 400 when no resolution is given.
	ResolutionScreen bool
}

// Workflow is the workflow every issue of the fake follows.
type Workflow struct {
	Initial     string // status of a new issue; default the first status
	Statuses    []Status
	Transitions []Transition
}

// Resolutions are the resolutions the fake knows, as on a default Jira Cloud site.
var Resolutions = []string{"Done", "Won't Do", "Duplicate", "Cannot Reproduce", "Won't Fix", "Declined", "Fixed"}

// DefaultWorkflow is Jira Cloud's simplified workflow: To Do, In Progress, Done and Won't Do,
// each reachable directly from every other status.
func DefaultWorkflow() Workflow {
	return Workflow{
		Initial: "To Do",
		Statuses: []Status{
			{Name: "To Do", Category: CategoryNew},
			{Name: "In Progress", Category: CategoryIndeterminate},
			{Name: "Done", Category: CategoryDone, Resolution: "Done"},
			{Name: "Won't Do", Category: CategoryDone, Resolution: "Won't Do"},
		},
		Transitions: []Transition{
			{ID: "11", Name: "To Do", To: "To Do"},
			{ID: "21", Name: "In Progress", To: "In Progress"},
			{ID: "31", Name: "Done", To: "Done"},
			{ID: "41", Name: "Won't Do", To: "Won't Do"},
		},
	}
}

// TwoStepWorkflow is a classic workflow where Done is reachable only from In Progress, through
// a "Resolve" transition whose screen requires a resolution, and there is no Won't Do status
// (a won't-do outcome is Done with a won't-do resolution).
func TwoStepWorkflow() Workflow {
	return Workflow{
		Initial: "To Do",
		Statuses: []Status{
			{Name: "To Do", Category: CategoryNew},
			{Name: "In Progress", Category: CategoryIndeterminate},
			{Name: "Done", Category: CategoryDone},
		},
		Transitions: []Transition{
			{ID: "11", Name: "Start Progress", From: []string{"To Do"}, To: "In Progress"},
			{ID: "21", Name: "Resolve", From: []string{"In Progress"}, To: "Done", ResolutionScreen: true},
			{ID: "31", Name: "Stop Progress", From: []string{"In Progress"}, To: "To Do"},
			{ID: "41", Name: "Reopen", From: []string{"Done"}, To: "To Do"},
		},
	}
}

func (w *Workflow) status(name string) (Status, int, bool) {
	for i, s := range w.Statuses {
		if s.Name == name {
			return s, i, true
		}
	}
	return Status{}, 0, false
}

// offered lists the transitions available from a status, in workflow order.
func (w *Workflow) offered(from string) []Transition {
	var out []Transition
	for _, t := range w.Transitions {
		if len(t.From) == 0 {
			if t.To != from {
				out = append(out, t)
			}
			continue
		}
		for _, f := range t.From {
			if f == from {
				out = append(out, t)
				break
			}
		}
	}
	return out
}

func categoryInfo(key string) (id int, name, color string) {
	switch key {
	case CategoryNew:
		return 2, "To Do", "blue-gray"
	case CategoryIndeterminate:
		return 4, "In Progress", "yellow"
	case CategoryDone:
		return 3, "Done", "green"
	}
	return 1, "No Category", "medium-gray"
}
