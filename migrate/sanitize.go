package migrate

import (
	"reflect"
	"strings"
	"unicode/utf8"
)

// Sanitize replaces text that is not UTF-8 anywhere in v (a *config.Config
// or a part of it) and reports each as invalid: YAML holds UTF-8 text
// only, and a source's bytes (a dhcpd.conf string with \x83 in it) could
// otherwise not be written at all.
func Sanitize(v any, rep *Report) {
	sanitize(reflect.ValueOf(v), rep, "")
}

func sanitize(v reflect.Value, rep *Report, key string) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			e := v.Elem()
			if v.Kind() == reflect.Interface && e.Kind() == reflect.String {
				if s, bad := fixText(e.String(), rep, key); bad {
					v.Set(reflect.ValueOf(s))
				}
				return
			}
			sanitize(e, rep, key)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				sanitize(v.Field(i), rep, key+"."+tag(v.Type().Field(i)))
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			sanitize(v.Index(i), rep, key+"[]")
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			e := v.MapIndex(k)
			kk := key + "." + k.String()
			if !utf8.ValidString(k.String()) {
				rep.Invalid(Pos{}, kk, "a key that is not UTF-8 text: left out")
				v.SetMapIndex(k, reflect.Value{})
				continue
			}
			if e.Kind() == reflect.Interface && !e.IsNil() && e.Elem().Kind() == reflect.String {
				if s, bad := fixText(e.Elem().String(), rep, kk); bad {
					v.SetMapIndex(k, reflect.ValueOf(s))
				}
				continue
			}
			if e.Kind() == reflect.Interface && !e.IsNil() && (e.Elem().Kind() == reflect.Map || e.Elem().Kind() == reflect.Slice) {
				sanitize(e.Elem(), rep, kk)
			}
		}
	case reflect.String:
		if s, bad := fixText(v.String(), rep, key); bad && v.CanSet() {
			v.SetString(s)
		}
	}
}

// fixText reports s at key when it is not UTF-8 and gives it with U+FFFD
// in place of the bad bytes.
func fixText(s string, rep *Report, key string) (string, bool) {
	if utf8.ValidString(s) {
		return s, false
	}
	rep.Invalid(Pos{}, key, "not UTF-8 text: written with U+FFFD in place of the bad bytes; write it as hex")
	return strings.ToValidUTF8(s, "\uFFFD"), true
}
