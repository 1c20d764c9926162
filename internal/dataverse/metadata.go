package dataverse

import (
	"context"
	"errors"
	"net/http"
	"regexp"
)

// Table definitions (metadata), as Microsoft Learn's "Query table
// definitions using the Web API" and "Retrieve table definitions by name or
// MetadataId" describe them: EntityDefinitions(LogicalName='x'), its
// Attributes(LogicalName='y') (cast to PicklistAttributeMetadata to expand
// a choice's OptionSet), Keys and ManyToOneRelationships; columns and keys
// are created by POSTing to Attributes and Keys ("Create and update column
// definitions using the Web API", "Work with alternate keys").

// EntityDefinition is a table's definition.
type EntityDefinition struct {
	LogicalName, EntitySetName, PrimaryIdAttribute string
}

// AttributeDefinition is a column's definition: its AttributeType (String,
// Memo, Integer, Picklist, Lookup, PartyList, ...), MaxLength for text and,
// for lookups and party lists, the tables it may point at.
type AttributeDefinition struct {
	LogicalName   string
	AttributeType string
	MaxLength     int
	Targets       []string
}

// OptionDefinition is one option of a choice column, with its label in the
// caller's language.
type OptionDefinition struct {
	Value int64
	Label string
}

// KeyDefinition is an alternate key: its columns and whether its index is
// ready (EntityKeyIndexStatus Active; Dataverse builds it in a system job).
type KeyDefinition struct {
	SchemaName           string
	KeyAttributes        []string
	EntityKeyIndexStatus string
}

// RelationshipDefinition is a many-to-one relationship of a table.
type RelationshipDefinition struct {
	SchemaName, ReferencedEntity, ReferencingAttribute, ReferencingEntityNavigationPropertyName string
}

func metadataLiteral(name string) string { return escapeKeyLiteral(name) }

// getMetadata GETs path under the API root and decodes its JSON into v.
func (c *Client) getMetadata(ctx context.Context, op, path string, v any) error {
	req := &request{op: op, method: http.MethodGet, idempotent: true, url: c.root + path}
	res, err := c.do(ctx, req)
	if err != nil {
		return err
	}
	if err := decodeJSON(res.body, v); err != nil {
		return c.badAnswer(req, res, err)
	}
	return nil
}

func entityPath(entity string) (string, error) {
	if err := checkIdentifier("entity", entity); err != nil {
		return "", err
	}
	return "EntityDefinitions(LogicalName=" + metadataLiteral(entity) + ")", nil
}

// EntityDefinition reads a table's definition; a table the environment
// lacks is ErrNotFound.
func (c *Client) EntityDefinition(ctx context.Context, entity string) (EntityDefinition, error) {
	var out EntityDefinition
	path, err := entityPath(entity)
	if err != nil {
		return out, c.notSent(&request{op: "EntityDefinition", method: http.MethodGet, url: c.root + "EntityDefinitions"}, err)
	}
	err = c.getMetadata(ctx, "EntityDefinition", path+"?$select=LogicalName,EntitySetName,PrimaryIdAttribute", &out)
	return out, err
}

// AttributeDefinition reads a column's definition; a column the table
// lacks is ErrNotFound.
func (c *Client) AttributeDefinition(ctx context.Context, entity, column string) (AttributeDefinition, error) {
	var out AttributeDefinition
	path, err := entityPath(entity)
	if err == nil {
		err = checkIdentifier("column", column)
	}
	if err != nil {
		return out, c.notSent(&request{op: "AttributeDefinition", method: http.MethodGet, url: c.root + "EntityDefinitions"}, err)
	}
	err = c.getMetadata(ctx, "AttributeDefinition", path+"/Attributes(LogicalName="+metadataLiteral(column)+")", &out)
	return out, err
}

// ChoiceOptions reads the options of a choice (Picklist) column.
func (c *Client) ChoiceOptions(ctx context.Context, entity, column string) ([]OptionDefinition, error) {
	path, err := entityPath(entity)
	if err == nil {
		err = checkIdentifier("column", column)
	}
	if err != nil {
		return nil, c.notSent(&request{op: "ChoiceOptions", method: http.MethodGet, url: c.root + "EntityDefinitions"}, err)
	}
	var out struct {
		OptionSet struct {
			Options []struct {
				Value int64
				Label struct {
					UserLocalizedLabel *struct{ Label string }
					LocalizedLabels    []struct{ Label string }
				}
			}
		}
	}
	err = c.getMetadata(ctx, "ChoiceOptions", path+"/Attributes(LogicalName="+metadataLiteral(column)+
		")/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet($select=Options)", &out)
	if err != nil {
		return nil, err
	}
	options := make([]OptionDefinition, 0, len(out.OptionSet.Options))
	for _, o := range out.OptionSet.Options {
		label := ""
		switch {
		case o.Label.UserLocalizedLabel != nil:
			label = o.Label.UserLocalizedLabel.Label
		case len(o.Label.LocalizedLabels) > 0:
			label = o.Label.LocalizedLabels[0].Label
		}
		options = append(options, OptionDefinition{Value: o.Value, Label: label})
	}
	return options, nil
}

// Keys reads a table's alternate keys.
func (c *Client) Keys(ctx context.Context, entity string) ([]KeyDefinition, error) {
	path, err := entityPath(entity)
	if err != nil {
		return nil, c.notSent(&request{op: "Keys", method: http.MethodGet, url: c.root + "EntityDefinitions"}, err)
	}
	var out struct{ Value []KeyDefinition }
	err = c.getMetadata(ctx, "Keys", path+"/Keys?$select=SchemaName,KeyAttributes,EntityKeyIndexStatus", &out)
	return out.Value, err
}

// ManyToOneRelationships reads a table's many-to-one relationships (its
// lookups' targets and navigation property names).
func (c *Client) ManyToOneRelationships(ctx context.Context, entity string) ([]RelationshipDefinition, error) {
	path, err := entityPath(entity)
	if err != nil {
		return nil, c.notSent(&request{op: "ManyToOneRelationships", method: http.MethodGet, url: c.root + "EntityDefinitions"}, err)
	}
	var out struct{ Value []RelationshipDefinition }
	err = c.getMetadata(ctx, "ManyToOneRelationships", path+"/ManyToOneRelationships?$select=SchemaName,ReferencedEntity,ReferencingAttribute,ReferencingEntityNavigationPropertyName", &out)
	return out.Value, err
}

// CreateColumn adds a column to a table (POST .../Attributes). definition
// is the AttributeMetadata JSON object, "@odata.type" included.
func (c *Client) CreateColumn(ctx context.Context, entity string, definition map[string]any) error {
	return c.postMetadata(ctx, "CreateColumn", entity, "/Attributes", definition)
}

// CreateKey adds an alternate key to a table (POST .../Keys). Dataverse
// builds its index in a system job: the key is usable once Keys reports it
// Active.
func (c *Client) CreateKey(ctx context.Context, entity, schemaName, displayName string, columns []string) error {
	return c.postMetadata(ctx, "CreateKey", entity, "/Keys", map[string]any{
		"SchemaName":    schemaName,
		"DisplayName":   Label(displayName),
		"KeyAttributes": columns,
	})
}

func (c *Client) postMetadata(ctx context.Context, op, entity, nav string, body any) error {
	req := &request{op: op, method: http.MethodPost, url: c.root + "EntityDefinitions"}
	path, err := entityPath(entity)
	if err != nil {
		return c.notSent(req, err)
	}
	req.url = c.root + path + nav
	if err := c.setBody(req, body); err != nil {
		return err
	}
	_, err = c.do(ctx, req)
	return err
}

// Label is a metadata Label in English (LanguageCode 1033).
func Label(text string) map[string]any {
	return map[string]any{
		"@odata.type": "Microsoft.Dynamics.CRM.Label",
		"LocalizedLabels": []any{map[string]any{
			"@odata.type": "Microsoft.Dynamics.CRM.LocalizedLabel", "Label": text, "LanguageCode": 1033,
		}},
	}
}

var missingPrivilege = regexp.MustCompile(`missing (prv[A-Za-z]+) privilege`)

// MissingPrivilege is the privilege a 403 says the caller lacks
// ("... is missing prvReadEntity privilege ..."), or "".
func MissingPrivilege(err error) string {
	var de *Error
	if !errors.As(err, &de) || !errors.Is(err, ErrForbidden) {
		return ""
	}
	if m := missingPrivilege.FindStringSubmatch(de.Message); m != nil {
		return m[1]
	}
	return ""
}
