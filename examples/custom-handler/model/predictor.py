"""Pre- and post-processing around the built-in sklearn model.

Clients send named measurements instead of bare feature lists, and get a species name with
its probability back. mlfn loads model.joblib itself and calls these hooks around it.
"""

FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
SPECIES = ("setosa", "versicolor", "virginica")


class Predictor:
    def preprocess(self, instances, parameters):
        rows = []
        for i, item in enumerate(instances):
            if isinstance(item, dict):
                missing = [f for f in FEATURES if f not in item]
                if missing:
                    from mlfn_runtime.errors import InvalidInput

                    raise InvalidInput(f"instance {i} is missing {', '.join(missing)}")
                rows.append([float(item[f]) for f in FEATURES])
            else:
                rows.append(item)
        # Ask the wrapped model for probabilities, whatever the client sent.
        parameters["predict_proba"] = True
        return rows

    def postprocess(self, probabilities, parameters):
        out = []
        for row in probabilities:
            best = max(range(len(row)), key=row.__getitem__)
            out.append({"species": SPECIES[best], "probability": round(float(row[best]), 4)})
        return out
