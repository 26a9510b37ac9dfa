"""optimist.interpretability"""
