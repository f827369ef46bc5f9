package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/suanli/suanli/internal/core"
)

// PriorityClassStore is what the priority-class endpoints and the
// submission's class resolution need from the store.
type PriorityClassStore interface {
	PriorityClasses(ctx context.Context) ([]core.PriorityClass, error)
	PriorityClass(ctx context.Context, name string) (core.PriorityClass, error)
	SetPriorityClass(ctx context.Context, c core.PriorityClass, actor string) error
	DeletePriorityClass(ctx context.Context, name, actor string) error
}

func (s *Server) priorityClassRoutes(a huma.API) {
	if s.PriorityClasses == nil {
		return
	}
	huma.Register(a, huma.Operation{OperationID: "list-priority-classes", Method: http.MethodGet,
		Path:    "/api/v1/priority-classes",
		Summary: "The operator's named priority classes, highest value first; a job names one with priority_class",
		Tags:    []string{"jobs"}}, s.listPriorityClasses)
	huma.Register(a, huma.Operation{OperationID: "set-priority-class", Method: http.MethodPut,
		Path:    "/api/v1/priority-classes",
		Summary: "Create or replace a priority class (operator); jobs already submitted keep their priority",
		Tags:    []string{"jobs"}, MaxBodyBytes: BodyBytesMax + 1}, s.setPriorityClass)
	huma.Register(a, huma.Operation{OperationID: "delete-priority-class", Method: http.MethodDelete,
		Path:    "/api/v1/priority-classes/{name}",
		Summary: "Remove a priority class (operator); jobs that named it keep their priority",
		Tags:    []string{"jobs"}}, s.deletePriorityClass)
}

type priorityClassesOut struct {
	Body struct {
		PriorityClasses []core.PriorityClass `json:"priority_classes" doc:"Highest value first, then by name; at most 100."`
	}
}

func (s *Server) listPriorityClasses(ctx context.Context, _ *struct{}) (*priorityClassesOut, error) {
	cs, err := s.PriorityClasses.PriorityClasses(ctx)
	if err != nil {
		return nil, s.fail(err)
	}
	out := &priorityClassesOut{}
	out.Body.PriorityClasses = append([]core.PriorityClass{}, cs...)
	return out, nil
}

// priorityClassIn bounds the body's fields for the OpenAPI document; the
// name's charset and the bounds are checked by PriorityClass.Validate,
// the one place that knows them.
type priorityClassIn struct {
	Body struct {
		Name        string `json:"name" minLength:"1" maxLength:"63" doc:"Lowercase letters, digits and '-', starting with a letter."`
		Value       int    `json:"value" minimum:"-1000" maximum:"1000" doc:"The priority a job of this class gets; higher runs first and may preempt lower."`
		Description string `json:"description,omitempty" maxLength:"256"`
	}
}

type priorityClassOut struct{ Body core.PriorityClass }

func (s *Server) setPriorityClass(ctx context.Context, in *priorityClassIn) (*priorityClassOut, error) {
	if err := s.operatorOnly(ctx, "sets priority classes"); err != nil {
		return nil, err
	}
	c := core.PriorityClass{Name: in.Body.Name, Value: in.Body.Value, Description: in.Body.Description}
	if err := s.PriorityClasses.SetPriorityClass(ctx, c, principal(ctx).OrgID); err != nil {
		return nil, s.fail(err)
	}
	return &priorityClassOut{Body: c}, nil
}

type priorityClassPathIn struct {
	Name string `path:"name" minLength:"1" maxLength:"63"`
}

func (s *Server) deletePriorityClass(ctx context.Context, in *priorityClassPathIn) (*okOut, error) {
	if err := s.operatorOnly(ctx, "removes priority classes"); err != nil {
		return nil, err
	}
	if err := s.PriorityClasses.DeletePriorityClass(ctx, in.Name, principal(ctx).OrgID); err != nil {
		return nil, s.fail(err)
	}
	return ok(), nil
}

// resolvePriorityClass sets spec.Priority from the class spec names, if
// any. The class is resolved once, here, at submission: the stored spec
// keeps the number, so the scheduler never looks classes up and a later
// change to a class moves no job already queued. A request that also sets
// a non-zero priority must agree with the class (0 is the field's absence
// on the wire).
func (s *Server) resolvePriorityClass(ctx context.Context, spec *core.JobSpec) error {
	if spec.PriorityClass == "" {
		return nil
	}
	if s.PriorityClasses == nil {
		return core.FieldErrorf("priority_class", "unknown priority class %q", spec.PriorityClass)
	}
	c, err := s.PriorityClasses.PriorityClass(ctx, spec.PriorityClass)
	if core.ErrorCode(err) == core.ENotFound {
		return core.FieldErrorf("priority_class", "unknown priority class %q", spec.PriorityClass)
	}
	if err != nil {
		return err
	}
	if spec.Priority != 0 && spec.Priority != c.Value {
		return core.FieldErrorf("priority", "priority_class %q sets priority %d", c.Name, c.Value)
	}
	spec.Priority = c.Value
	return nil
}
