"""optimist.generation"""
