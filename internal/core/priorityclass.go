package core

// PriorityClass names a priority value, as Kubernetes' PriorityClass or
// Slurm's QOS do: the operator defines a few classes (production, batch,
// …) and tenants submit with a class instead of a bare number, so the
// numbers mean the same across tenants and can be moved in one place.
// A job that names a class gets the class's value as its Priority at
// submission; the scheduler reads only Priority.
type PriorityClass struct {
	Name        string `json:"name"`
	Value       int    `json:"value"`
	Description string `json:"description"`
}

// Limits of priority classes.
const (
	// PriorityClassesMax bounds the classes the operator may define: a
	// handful is the point of naming priorities, and the list is read
	// whole.
	PriorityClassesMax             = 100
	PriorityClassNameLenMax        = 63 // a DNS label, as Kubernetes names
	PriorityClassDescriptionLenMax = 256
)

// Validate checks the class's name, value and description.
func (c PriorityClass) Validate() error {
	if err := ValidatePriorityClassName("name", c.Name); err != nil {
		return err
	}
	if c.Value < PriorityMin || c.Value > PriorityMax {
		return FieldErrorf("value", "must be between %d and %d", PriorityMin, PriorityMax)
	}
	if len(c.Description) > PriorityClassDescriptionLenMax {
		return FieldErrorf("description", "longer than %d bytes", PriorityClassDescriptionLenMax)
	}
	return nil
}

// ValidatePriorityClassName checks that name may name a priority class:
// 1..PriorityClassNameLenMax lowercase letters, digits and '-', starting
// with a letter, so that it reads the same in a URL path, a table and a
// flag. field is the name the error gives the input.
func ValidatePriorityClassName(field, name string) error {
	if !validPriorityClassName(name) {
		return FieldErrorf(field, "must be 1 to %d lowercase letters, digits and '-', starting with a letter",
			PriorityClassNameLenMax)
	}
	return nil
}

func validPriorityClassName(name string) bool {
	if name == "" || len(name) > PriorityClassNameLenMax || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		if (b < 'a' || b > 'z') && (b < '0' || b > '9') && b != '-' {
			return false
		}
	}
	return true
}
