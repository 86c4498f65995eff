"""Classification metrics and the float / INT8 evaluation of a model on a data set."""
