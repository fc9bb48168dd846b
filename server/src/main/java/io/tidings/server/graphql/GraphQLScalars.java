package io.tidings.server.graphql;

import graphql.GraphQLContext;
import graphql.execution.CoercedVariables;
import graphql.language.ArrayValue;
import graphql.language.BooleanValue;
import graphql.language.EnumValue;
import graphql.language.FloatValue;
import graphql.language.IntValue;
import graphql.language.NullValue;
import graphql.language.ObjectField;
import graphql.language.ObjectValue;
import graphql.language.StringValue;
import graphql.language.Value;
import graphql.language.VariableReference;
import graphql.schema.Coercing;
import graphql.schema.CoercingParseLiteralException;
import graphql.schema.CoercingParseValueException;
import graphql.schema.CoercingSerializeException;
import graphql.schema.GraphQLScalarType;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The schema's custom scalars: {@code JSON} (any JSON value) and {@code Long} (64-bit offsets). */
final class GraphQLScalars {
  private GraphQLScalars() {}

  /**
   * Any JSON value. Output is the stored JSON text, written raw ({@link RawJson}); input (the data
   * of a published event) becomes plain Java values: maps, lists, strings, numbers, booleans, null.
   */
  static final GraphQLScalarType JSON = GraphQLScalarType.newScalar()
      .name("JSON")
      .description("Any JSON value")
      .coercing(new Coercing<Object, Object>() {
        @Override
        public Object serialize(Object value, GraphQLContext context, Locale locale) {
          return value;
        }

        @Override
        public Object parseValue(Object input, GraphQLContext context, Locale locale) {
          return input;
        }

        @Override
        public Object parseLiteral(Value<?> input, CoercedVariables variables, GraphQLContext context, Locale locale) {
          return literal(input, variables.toMap());
        }
      })
      .build();

  /** A 64-bit integer, written as a JSON number; accepted as an integer literal, number or decimal string. */
  static final GraphQLScalarType LONG = GraphQLScalarType.newScalar()
      .name("Long")
      .description("A 64-bit integer")
      .coercing(new Coercing<Long, Long>() {
        @Override
        public Long serialize(Object value, GraphQLContext context, Locale locale) {
          if (value instanceof Long l) {
            return l;
          }
          if (value instanceof Integer i) {
            return i.longValue();
          }
          throw new CoercingSerializeException("not a Long: " + value);
        }

        @Override
        public Long parseValue(Object input, GraphQLContext context, Locale locale) {
          try {
            if (input instanceof Long || input instanceof Integer || input instanceof Short) {
              return ((Number) input).longValue();
            }
            if (input instanceof BigInteger b) {
              return toLong(b);
            }
            if (input instanceof Number n) {
              return toLong(new java.math.BigDecimal(n.toString()).toBigIntegerExact());
            }
            if (input instanceof String s) {
              return toLong(new BigInteger(s));
            }
          } catch (ArithmeticException | NumberFormatException e) {
            throw new CoercingParseValueException("not a 64-bit integer: " + input);
          }
          throw new CoercingParseValueException("a Long must be an integer");
        }

        @Override
        public Long parseLiteral(Value<?> input, CoercedVariables variables, GraphQLContext context, Locale locale) {
          if (input instanceof IntValue i) {
            try {
              return toLong(i.getValue());
            } catch (CoercingParseValueException e) {
              throw new CoercingParseLiteralException(e.getMessage());
            }
          }
          if (input instanceof StringValue s) {
            try {
              return toLong(new BigInteger(s.getValue()));
            } catch (NumberFormatException | CoercingParseValueException e) {
              throw new CoercingParseLiteralException("not a 64-bit integer: " + s.getValue());
            }
          }
          throw new CoercingParseLiteralException("a Long must be an integer");
        }
      })
      .build();

  private static long toLong(BigInteger value) {
    if (value.bitLength() > 63) {
      throw new CoercingParseValueException("out of the range of a 64-bit integer: " + value);
    }
    return value.longValue();
  }

  /** The Java value of a JSON literal written in a query. */
  private static Object literal(Value<?> input, Map<String, Object> variables) {
    if (input instanceof NullValue) {
      return null;
    }
    if (input instanceof StringValue s) {
      return s.getValue();
    }
    if (input instanceof BooleanValue b) {
      return b.isValue();
    }
    if (input instanceof IntValue i) {
      return i.getValue();
    }
    if (input instanceof FloatValue f) {
      return f.getValue();
    }
    if (input instanceof EnumValue e) {
      return e.getName();
    }
    if (input instanceof VariableReference v) {
      return variables.get(v.getName());
    }
    if (input instanceof ArrayValue a) {
      List<Object> out = new ArrayList<>(a.getValues().size());
      for (Value<?> v : a.getValues()) {
        out.add(literal(v, variables));
      }
      return out;
    }
    if (input instanceof ObjectValue o) {
      Map<String, Object> out = new LinkedHashMap<>();
      for (ObjectField f : o.getObjectFields()) {
        out.put(f.getName(), literal(f.getValue(), variables));
      }
      return out;
    }
    throw new CoercingParseLiteralException("not a JSON value: " + input);
  }
}
